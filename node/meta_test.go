package node

import (
	"reflect"
	"testing"
)

// equal compares every field of the gossip metadata: a field added to
// nodeMeta and forgotten in equal fails here.
func TestNodeMetaEqualSeesEveryField(t *testing.T) {
	base := nodeMeta{RaftAddr: "a:1", GRPCAddr: "a:2", Version: "v", ClusterID: "c", Expect: 3, Layers: map[string]string{"k": "v"}}
	if !base.equal(base) {
		t.Fatal("metadata differs from itself")
	}
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		other := base
		other.Layers = map[string]string{"k": "v"}
		f := reflect.ValueOf(&other).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Int:
			f.SetInt(f.Int() + 1)
		case reflect.Bool:
			f.SetBool(!f.Bool())
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]string{"k": "w"}))
		default:
			t.Fatalf("field %s of kind %s: teach this test to change it", typ.Field(i).Name, f.Kind())
		}
		if base.equal(other) {
			t.Errorf("a change of %s is not seen", typ.Field(i).Name)
		}
	}
}
