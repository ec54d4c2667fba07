package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/node"
	"github.com/steward/steward/testkit"
)

// freePorts are the agent flags that put every listener on a free port.
var freePorts = []string{"--bind-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"}

// runDevAgent runs `steward agent args...` in-process until it has printed
// its dev-mode start-up line, stops it as a signal would, and returns what
// it printed.
func runDevAgent(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := startCmd(ctx, out, append([]string{"agent"}, args...)...)
	testkit.Eventually(t, 20*time.Second, func() error {
		select {
		case err := <-done:
			t.Fatalf("agent stopped: %v\n%s", err, out)
		default:
		}
		if !strings.Contains(out.String(), "dev mode:") {
			return errors.New("no dev-mode line yet")
		}
		return nil
	}, "the agent's start-up lines")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent: %v\n%s", err, out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("agent did not stop\n%s", out)
	}
	return out.String()
}

func devLine(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  dev mode:") {
			return l
		}
	}
	t.Fatalf("no dev-mode line in:\n%s", out)
	return ""
}

func dirWithFile(t *testing.T) (dir, file string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "data")
	file = filepath.Join(dir, "keep.txt")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

func fileSurvives(t *testing.T, file string) {
	t.Helper()
	if b, err := os.ReadFile(file); err != nil || string(b) != "mine" {
		t.Fatalf("%s after the agent stopped: %q, %v", file, b, err)
	}
}

// `agent --dev` says in its start-up line whether its data dir is kept
// (given with --data-dir or in the config file) or removed on exit, and
// does as it says, also when its start-up fails.
func TestAgentDevDataDir(t *testing.T) {
	t.Run("given with --data-dir", func(t *testing.T) {
		dir, file := dirWithFile(t)
		out := runDevAgent(t, append([]string{"--dev", "--data-dir", dir}, freePorts...)...)
		want := fmt.Sprintf("  dev mode: single node, data kept in %s (given with --data-dir); try `steward status`", dir)
		if got := devLine(t, out); got != want {
			t.Fatalf("start-up line\n got %q\nwant %q", got, want)
		}
		fileSurvives(t, file)
	})
	t.Run("given in the config file", func(t *testing.T) {
		dir, file := dirWithFile(t)
		conf := filepath.Join(t.TempDir(), "agent.conf")
		src := fmt.Sprintf("dev = true\ndata_dir = %q\nbind_addr = \"127.0.0.1:0\"\n", dir)
		if err := os.WriteFile(conf, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		out := runDevAgent(t, "--config", conf, "--raft-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0")
		want := fmt.Sprintf("  dev mode: single node, data kept in %s (given in %s); try `steward status`", dir, conf)
		if got := devLine(t, out); got != want {
			t.Fatalf("start-up line\n got %q\nwant %q", got, want)
		}
		fileSurvives(t, file)
	})
	t.Run("given, start-up fails", func(t *testing.T) {
		dir, file := dirWithFile(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		_, err = run(t, "agent", "--dev", "--data-dir", dir, "--bind-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0", "--grpc-addr", l.Addr().String())
		if err == nil || !strings.Contains(err.Error(), "grpc-addr") {
			t.Fatalf("err = %v", err)
		}
		fileSurvives(t, file)
	})
	t.Run("temporary", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		out := runDevAgent(t, append([]string{"--dev"}, freePorts...)...)
		if got, want := devLine(t, out), "  dev mode: single node, data is removed on exit; try `steward status`"; got != want {
			t.Fatalf("start-up line\n got %q\nwant %q", got, want)
		}
		m := regexp.MustCompile(`(?m)^  data:   (\S+)$`).FindStringSubmatch(out)
		if m == nil || filepath.Dir(m[1]) != tmp {
			t.Fatalf("data line: %v, want a dir under %s\n%s", m, tmp, out)
		}
		if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
			t.Fatalf("left in %s: %v %v", tmp, left, err)
		}
	})
}

// agentFlagNames lists the agent's flags, from its flag set
// (newAgentCmd().Flags().VisitAll). The callback takes a *pflag.Flag, and
// pflag is only an indirect dependency of steward: reflection spares go.mod
// a direct requirement for one test.
func agentFlagNames() []string {
	var names []string
	visitAll := reflect.ValueOf(newAgentCmd().Flags().VisitAll)
	visit := reflect.MakeFunc(visitAll.Type().In(0), func(args []reflect.Value) []reflect.Value {
		names = append(names, args[0].Elem().FieldByName("Name").String())
		return nil
	})
	visitAll.Call([]reflect.Value{visit})
	return names
}

// flagSettings holds, for every agent flag but --config, a value for its
// key in the config file (HCL; one starting with "{" is a block's body),
// another for the flag itself, and where the setting ends up. The file's
// values together make a dev agent, the flags' a server that bootstraps.
var flagSettings = map[string]struct {
	file, flag         string
	get                func(s agentSettings) any
	fromFile, fromFlag string
}{
	"name":                     {`"file-name"`, "flag-name", func(s agentSettings) any { return s.node.Name }, "file-name", "flag-name"},
	"data-dir":                 {`"/tmp/file"`, "/tmp/flag", func(s agentSettings) any { return s.node.DataDir }, "/tmp/file", "/tmp/flag"},
	"bind-addr":                {`"127.0.0.1:9101"`, "127.0.0.2:9101", func(s agentSettings) any { return s.node.BindAddr }, "127.0.0.1:9101", "127.0.0.2:9101"},
	"raft-addr":                {`"127.0.0.1:9102"`, "127.0.0.2:9102", func(s agentSettings) any { return s.node.RaftAddr }, "127.0.0.1:9102", "127.0.0.2:9102"},
	"grpc-addr":                {`"127.0.0.1:9103"`, "127.0.0.2:9103", func(s agentSettings) any { return s.node.GRPCAddr }, "127.0.0.1:9103", "127.0.0.2:9103"},
	"http-addr":                {`"127.0.0.1:9104"`, "127.0.0.2:9104", func(s agentSettings) any { return s.node.HTTPAddr }, "127.0.0.1:9104", "127.0.0.2:9104"},
	"advertise-addr":           {`"10.0.0.1"`, "10.0.0.2", func(s agentSettings) any { return s.node.AdvertiseAddr }, "10.0.0.1", "10.0.0.2"},
	"join":                     {`["10.0.0.1:7401"]`, "10.0.0.2:7401", func(s agentSettings) any { return s.node.Join }, "[10.0.0.1:7401]", "[10.0.0.2:7401]"},
	"retry-join":               {`["10.0.0.3:7401"]`, "10.0.0.4:7401", func(s agentSettings) any { return s.node.RetryJoin }, "[10.0.0.3:7401]", "[10.0.0.4:7401]"},
	"retry-interval":           {`"3s"`, "4s", func(s agentSettings) any { return s.node.RetryJoinInterval }, "3s", "4s"},
	"retry-max":                {`7`, "8", func(s agentSettings) any { return s.node.RetryJoinMax }, "7", "8"},
	"bootstrap-expect":         {`3`, "5", func(s agentSettings) any { return s.node.BootstrapExpect }, "3", "5"},
	"dev":                      {`true`, "false", func(s agentSettings) any { return s.node.Dev }, "true", "false"},
	"server":                   {`{ enabled = false }`, "true", func(s agentSettings) any { return s.server }, "false", "true"},
	"client":                   {`{ enabled = false }`, "true", func(s agentSettings) any { return s.client }, "false", "true"},
	"log-level":                {`"debug"`, "warn", func(s agentSettings) any { return s.logLevel }, "debug", "warn"},
	"log-json":                 {`true`, "false", func(s agentSettings) any { return s.logJSON }, "true", "false"},
	"resource-sample-interval": {`"7s"`, "9s", func(s agentSettings) any { return s.sampleInterval }, "7s", "9s"},
	"region":                   {`"eu"`, "us", func(s agentSettings) any { return s.node.Region }, "eu", "us"},
	"ca-file":                  {`"/tmp/file-ca.pem"`, "/tmp/flag-ca.pem", func(s agentSettings) any { return s.node.TLS.CAFile }, "/tmp/file-ca.pem", "/tmp/flag-ca.pem"},
	"cert-file":                {`"/tmp/file.pem"`, "/tmp/flag.pem", func(s agentSettings) any { return s.node.TLS.CertFile }, "/tmp/file.pem", "/tmp/flag.pem"},
	"key-file":                 {`"/tmp/file-key.pem"`, "/tmp/flag-key.pem", func(s agentSettings) any { return s.node.TLS.KeyFile }, "/tmp/file-key.pem", "/tmp/flag-key.pem"},
	"verify-incoming":          {`true`, "false", func(s agentSettings) any { return s.node.TLS.VerifyIncoming }, "true", "false"},
	"verify-outgoing":          {`true`, "false", func(s agentSettings) any { return s.node.TLS.VerifyOutgoing }, "true", "false"},
	"verify-server-hostname":   {`true`, "false", func(s agentSettings) any { return s.node.TLS.VerifyServerHostname }, "true", "false"},
	"encrypt":                  {`"AAECAwQFBgcICQoLDA0ODw=="`, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", func(s agentSettings) any { return s.node.Encrypt }, "AAECAwQFBgcICQoLDA0ODw==", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="},
	"encrypt-verify-incoming":  {`false`, "true", func(s agentSettings) any { return s.node.EncryptVerifyIncoming }, "false", "true"},
	"encrypt-verify-outgoing":  {`false`, "true", func(s agentSettings) any { return s.node.EncryptVerifyOutgoing }, "false", "true"},
	"acl-enabled":              {`true`, "false", func(s agentSettings) any { return s.node.ACL.Enabled }, "true", "false"},
	"acl-default-policy":       {`"allow"`, "deny", func(s agentSettings) any { return s.node.ACL.DefaultPolicy }, "allow", "deny"},
	"audit-enabled":            {`true`, "false", func(s agentSettings) any { return s.node.Audit.Enabled }, "true", "false"},
	"raft-log-store":           {`"wal"`, "boltdb", func(s agentSettings) any { return s.node.RaftLogStore }, "wal", "boltdb"},
	"enable-debug":             {`true`, "false", func(s agentSettings) any { return s.node.EnableDebug }, "true", "false"},
}

// flagBlock names the config-file block that holds a flag's key, for the
// flags whose key is in a block (Consul's tls block).
var flagBlock = map[string]string{
	"ca-file": "tls", "cert-file": "tls", "key-file": "tls",
	"verify-incoming": "tls", "verify-outgoing": "tls", "verify-server-hostname": "tls",
	"acl-enabled": "acl", "acl-default-policy": "acl",
	"audit-enabled": "audit",
}

// flagFileKey is a flag's key in the config file: its name with "_" for
// "-", less its block's name in front (--acl-enabled is acl { enabled }).
func flagFileKey(name string) string {
	key := strings.ReplaceAll(name, "-", "_")
	if b := flagBlock[name]; b != "" {
		return strings.TrimPrefix(key, b+"_")
	}
	return key
}

// Every agent flag but --config has a config-file key, its name with "_"
// for "-" (in its block, for those of flagBlock); the file's value reaches
// the agent's settings, and the flag wins over it. A new flag fails this
// test until it has both.
func TestAgentConfigFileHasEveryFlag(t *testing.T) {
	keys := map[string]bool{}
	ft := reflect.TypeOf(node.FileConfig{})
	for i := 0; i < ft.NumField(); i++ {
		key := strings.Split(ft.Field(i).Tag.Get("hcl"), ",")[0]
		keys[key] = true
		if bt := ft.Field(i).Type; bt.Kind() == reflect.Pointer && bt.Elem().Kind() == reflect.Struct {
			for j := 0; j < bt.Elem().NumField(); j++ {
				keys[key+"."+strings.Split(bt.Elem().Field(j).Tag.Get("hcl"), ",")[0]] = true
			}
		}
	}
	var flags []string
	isFlag := map[string]bool{}
	for _, name := range agentFlagNames() {
		if name == "config" {
			continue
		}
		flags = append(flags, name)
		isFlag[name] = true
		key := flagFileKey(name)
		if b := flagBlock[name]; b != "" {
			key = b + "." + key
		}
		if !keys[key] {
			t.Errorf("--%s: the config file has no key %q (node.FileConfig)", name, key)
		}
		if _, ok := flagSettings[name]; !ok {
			t.Errorf("--%s: not in flagSettings; add a value for %q in the file and one for the flag", name, key)
		}
	}
	for name := range flagSettings {
		if !isFlag[name] {
			t.Errorf("flagSettings: --%s is not an agent flag", name)
		}
	}
	var src strings.Builder
	blocks := map[string]*strings.Builder{}
	for _, name := range flags {
		if s, ok := flagSettings[name]; ok && flagBlock[name] != "" {
			b := blocks[flagBlock[name]]
			if b == nil {
				b = &strings.Builder{}
				blocks[flagBlock[name]] = b
			}
			fmt.Fprintf(b, "  %s = %s\n", flagFileKey(name), s.file)
		}
	}
	for name, b := range blocks {
		fmt.Fprintf(&src, "%s {\n%s}\n", name, b.String())
	}
	for _, name := range flags {
		if s, ok := flagSettings[name]; ok && flagBlock[name] == "" {
			sep := " = "
			if strings.HasPrefix(s.file, "{") {
				sep = " "
			}
			fmt.Fprintf(&src, "%s%s%s\n", strings.ReplaceAll(name, "-", "_"), sep, s.file)
		}
	}
	conf := filepath.Join(t.TempDir(), "agent.conf")
	if err := os.WriteFile(conf, []byte(src.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	settle := func(args ...string) agentSettings {
		t.Helper()
		f := &agentFlags{}
		cmd := newAgentCmdWith(f)
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		s, err := agentConfig(cmd, f)
		if err != nil {
			t.Fatalf("%v\nfile:\n%s", err, src.String())
		}
		return s
	}
	fromFile := settle("--config", conf)
	args := []string{"--config", conf}
	for _, name := range flags {
		if s, ok := flagSettings[name]; ok {
			args = append(args, "--"+name+"="+s.flag)
		}
	}
	fromFlags := settle(args...)
	for _, name := range flags {
		s, ok := flagSettings[name]
		if !ok {
			continue
		}
		if got := fmt.Sprint(s.get(fromFile)); got != s.fromFile {
			t.Errorf("%s in the file: setting is %s, want %s", strings.ReplaceAll(name, "-", "_"), got, s.fromFile)
		}
		if got := fmt.Sprint(s.get(fromFlags)); got != s.fromFlag {
			t.Errorf("--%s over the file: setting is %s, want %s", name, got, s.fromFlag)
		}
	}
}

// The config file and the flags merge, the flags winning; a bad value or
// an unknown key is refused with its name.
func TestAgentConfigFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	hcl := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(hcl, []byte(`
name = "from-file"
data_dir = "/tmp/x"
bind_addr = "127.0.0.1:9001"
bootstrap_expect = 3
server {
  enabled = true
}
retry_join = ["127.0.0.1:9011"]
log_level = "debug"
raft {
  heartbeat_timeout = "300ms"
  election_timeout = "400ms"
  leader_lease_timeout = "200ms"
}
autopilot {
  failed_reap_timeout = "1m"
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &agentFlags{}
	cmd := newAgentCmdWith(f)
	if err := cmd.ParseFlags([]string{"--config", hcl, "--name", "from-flag", "--raft-addr", "127.0.0.1:9102"}); err != nil {
		t.Fatal(err)
	}
	s, err := agentConfig(cmd, f)
	if err != nil {
		t.Fatal(err)
	}
	cfg, level := s.node, s.logLevel
	if cfg.Name != "from-flag" || cfg.DataDir != "/tmp/x" || cfg.BootstrapExpect != 3 || cfg.Client || level != "debug" {
		t.Fatalf("merged config: %+v level=%s", cfg, level)
	}
	if cfg.RaftAddr != "127.0.0.1:9102" || cfg.GRPCAddr != "127.0.0.1:7403" {
		t.Fatalf("addresses: raft=%s grpc=%s", cfg.RaftAddr, cfg.GRPCAddr)
	}
	if cfg.RaftHeartbeatTimeout != 300*time.Millisecond || cfg.FailedReapTimeout != time.Minute || len(cfg.RetryJoin) != 1 {
		t.Fatalf("file settings: %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	// JSON holds the same settings; errors name the setting.
	js := filepath.Join(dir, "agent.json")
	_ = os.WriteFile(js, []byte(`{"name":"j","data_dir":"/tmp/j","raft":{"heartbeat_timeout":"soon"}}`), 0o600)
	f = &agentFlags{}
	cmd = newAgentCmdWith(f)
	_ = cmd.ParseFlags([]string{"--config", js})
	if _, err := agentConfig(cmd, f); err == nil || !strings.Contains(err.Error(), "raft.heartbeat_timeout") {
		t.Fatalf("bad duration: %v", err)
	}
	_ = os.WriteFile(js, []byte(`{"name":"j","colour":"blue"}`), 0o600)
	f = &agentFlags{}
	cmd = newAgentCmdWith(f)
	_ = cmd.ParseFlags([]string{"--config", js})
	if _, err := agentConfig(cmd, f); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown setting: %v", err)
	}
}

// agentModeCase is one combination of the mode flags (and config file)
// and the mode it settles on, or the usage error it is refused with.
type agentModeCase struct {
	args   []string
	file   string // HCL; "" for no config file
	client bool
	expect int
	// errs are what the usage error must name; nil: accepted.
	errs []string
}

// An agent is a client unless --server or --dev (a server and a client at
// once); --server --client is a server. --client with --dev, and
// bootstrap-expect on a client, are usage errors naming the flags. The
// file's server { enabled } and client { enabled } blocks count as the
// flags, which override them.
func TestAgentMode(t *testing.T) {
	const conf = "FILE"
	for _, tc := range []agentModeCase{
		{args: nil, client: true},
		{args: []string{"--client"}, client: true},
		{args: []string{"--server"}, client: false},
		{args: []string{"--server", "--client"}, client: false},
		{args: []string{"--server", "--bootstrap-expect", "3"}, client: false, expect: 3},
		{args: []string{"--dev"}, client: false},
		{args: []string{"--dev", "--server"}, client: false},
		{args: []string{"--dev", "--client=false"}, client: false},
		{args: []string{"--dev", "--client"}, errs: []string{"--client", "--dev", "a dev agent is a server and a client"}},
		{args: []string{"--dev", "--server", "--client"}, errs: []string{"--client", "--dev"}},
		{args: []string{"--bootstrap-expect", "3"}, errs: []string{"bootstrap-expect", "for servers", "add --server"}},
		{args: []string{"--client", "--bootstrap-expect", "3"}, errs: []string{"bootstrap-expect", "for servers", "add --server"}},
		{args: []string{"--client=false"}, errs: []string{"--client", "--server"}},

		{file: "server {\n  enabled = true\n  bootstrap_expect = 3\n}\n", client: false, expect: 3},
		{file: "bootstrap_expect = 3\nserver {\n  enabled = true\n}\n", client: false, expect: 3},
		{file: "client {\n  enabled = true\n}\n", client: true},
		{file: "client {\n  enabled = true\n}\n", args: []string{"--server"}, client: false},
		{file: "server {\n  enabled = true\n}\n", args: []string{"--server=false"}, client: true},
		{file: "server {\n  enabled = true\n}\n", args: []string{"--bootstrap-expect", "5"}, client: false, expect: 5},
		{file: "dev = true\n", args: []string{"--client"}, errs: []string{"--client", "dev in " + conf}},
		{file: "client {\n  enabled = true\n}\n", args: []string{"--dev"}, errs: []string{"client.enabled in " + conf, "--dev"}},
		{file: "bootstrap_expect = 3\n", errs: []string{"bootstrap-expect", "add --server", "server { enabled = true } in " + conf}},
		{file: "server {\n  enabled = true\n  bootstrap_expect = 3\n}\n", args: []string{"--server=false"}, errs: []string{"bootstrap-expect", "for servers"}},
	} {
		args := append([]string{"--name", "n1", "--data-dir", t.TempDir()}, tc.args...)
		path := ""
		if tc.file != "" {
			path = filepath.Join(t.TempDir(), "agent.hcl")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			args = append(args, "--config", path)
		}
		what := fmt.Sprintf("agent %s (file %q)", strings.Join(tc.args, " "), tc.file)
		f := &agentFlags{}
		cmd := newAgentCmdWith(f)
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		s, err := agentConfig(cmd, f)
		if tc.errs != nil {
			if err == nil {
				t.Errorf("%s: accepted (client %v); want a usage error", what, s.node.Client)
				continue
			}
			msg := err.Error()
			if path != "" {
				msg = strings.ReplaceAll(msg, path, conf)
			}
			for _, want := range tc.errs {
				if !strings.Contains(msg, want) {
					t.Errorf("%s: error %q does not say %q", what, msg, want)
				}
			}
			if exitCode(err) != 2 {
				t.Errorf("%s: exit code %d, want 2 (usage)", what, exitCode(err))
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		if s.node.Client != tc.client || s.node.BootstrapExpect != tc.expect {
			t.Errorf("%s: client %v, bootstrap-expect %d; want %v, %d", what, s.node.Client, s.node.BootstrapExpect, tc.client, tc.expect)
		}
		if err := s.node.Validate(); err != nil {
			t.Errorf("%s: the settled config is refused: %v", what, err)
		}
	}

	// Through the command: the usage error ends the agent before it starts.
	_, err := run(t, append([]string{"agent", "--dev", "--client"}, freePorts...)...)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--client") || !strings.Contains(err.Error(), "--dev") {
		t.Fatalf("agent --dev --client: %v (exit %d)", err, exitCode(err))
	}
}

// parseAgentFlags is the agent's settings from args, as `steward agent`
// reads them (flags, then the config file they name); a flag parse error
// fails t.
func parseAgentFlags(t *testing.T, args ...string) (agentSettings, error) {
	t.Helper()
	f := &agentFlags{}
	cmd := newAgentCmdWith(f)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	return agentConfig(cmd, f)
}
