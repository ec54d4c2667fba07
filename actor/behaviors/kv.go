package behaviors

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/steward/steward/actor"
)

// KV is a key/value store.
//
// Args: max_keys (integer >= 1, default 10000).
// Calls and casts: "put <key> <value>" (value is the rest of the body),
// "del <key>". Calls only: "get <key>" (refused when absent), "keys"
// (sorted, one per line), "size".
// State: {"data": {key: value, ...}}.
type KV struct {
	base
	Data    map[string]string `json:"data"`
	maxKeys int
	bytes   int
}

// NewKV is the kv factory.
func NewKV(m map[string]string) (actor.Behavior, error) {
	a, err := parseArgs("kv", m, "max_keys")
	if err != nil {
		return nil, err
	}
	max, err := a.int("max_keys", 10_000, 1, 10_000_000)
	if err != nil {
		return nil, err
	}
	return &KV{Data: map[string]string{}, maxKeys: int(max)}, nil
}

func (k *KV) update(body []byte) ([]byte, error) {
	verb, rest := command(body)
	switch verb {
	case "put":
		key, val, _ := strings.Cut(rest, " ")
		if key == "" {
			return nil, actor.Refuse("kv: put needs a key")
		}
		old, had := k.Data[key]
		if !had && len(k.Data) >= k.maxKeys {
			return nil, actor.Refuse("kv: full (%d keys)", k.maxKeys)
		}
		if had {
			k.bytes -= len(key) + len(old)
		}
		k.Data[key] = val
		k.bytes += len(key) + len(val)
		return []byte("ok"), nil
	case "del":
		if old, had := k.Data[rest]; had {
			k.bytes -= len(rest) + len(old)
			delete(k.Data, rest)
		}
		return []byte("ok"), nil
	}
	return nil, actor.Refuse("kv: unknown command %q (want put, del, get, keys, size)", body)
}

func (k *KV) HandleCast(_ actor.Proc, m actor.Message) error {
	_, err := k.update(m.Body)
	return err
}

func (k *KV) HandleCall(_ actor.Proc, m actor.Message) ([]byte, error) {
	verb, rest := command(m.Body)
	switch verb {
	case "get":
		v, ok := k.Data[rest]
		if !ok {
			return nil, actor.Refuse("kv: no key %q", rest)
		}
		return []byte(v), nil
	case "keys":
		keys := make([]string, 0, len(k.Data))
		for key := range k.Data {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		return []byte(strings.Join(keys, "\n")), nil
	case "size":
		return []byte(strconv.Itoa(len(k.Data))), nil
	}
	return k.update(m.Body)
}

func (k *KV) CodeChange(_ string, old []byte) error { return k.ImportState(old) }

func (k *KV) ExportState() ([]byte, error) { return json.Marshal(k) }

func (k *KV) ImportState(b []byte) error {
	var st struct {
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("kv state: %w", err)
	}
	if st.Data == nil {
		st.Data = map[string]string{}
	}
	if len(st.Data) > k.maxKeys {
		return fmt.Errorf("kv state: %d keys, max_keys is %d", len(st.Data), k.maxKeys)
	}
	k.Data, k.bytes = st.Data, 0
	for key, v := range st.Data {
		k.bytes += len(key) + len(v)
	}
	return nil
}

func (k *KV) ApproxSize() int { return k.bytes + len(k.Data)*32 }
