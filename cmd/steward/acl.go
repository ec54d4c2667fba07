package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/acl"
	"github.com/steward/steward/pb"
)

// steward acl ... (docs/SECURITY.md "ACLs"): bootstrap, policies, tokens.

func newACLCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "acl", Short: "Manage ACLs: bootstrap, policies and tokens (docs/SECURITY.md)"}
	policy := &cobra.Command{Use: "policy", Short: "Manage ACL policies"}
	policy.AddCommand(newACLPolicyCreateCmd(g), newACLPolicyListCmd(g), newACLPolicyReadCmd(g), newACLPolicyDeleteCmd(g))
	token := &cobra.Command{Use: "token", Short: "Manage ACL tokens"}
	token.AddCommand(newACLTokenCreateCmd(g), newACLTokenListCmd(g), newACLTokenReadCmd(g), newACLTokenSelfCmd(g), newACLTokenDeleteCmd(g))
	c.AddCommand(newACLBootstrapCmd(g), policy, token)
	return c
}

type aclRPC struct {
	c    pb.ACLClient
	ctx  context.Context
	done func()
}

func (g *globals) dialACL(cmd *cobra.Command) (*aclRPC, error) {
	c, ctx, done, err := g.connect(cmd)
	if err != nil {
		return nil, err
	}
	return &aclRPC{c: pb.NewACLClient(c.Conn()), ctx: ctx, done: done}, nil
}

// policyJSON is a policy in -o json.
type policyJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Rules       string `json:"rules"`
	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

func policyOut(p *pb.ACLPolicy) policyJSON {
	return policyJSON{Name: p.Name, Description: p.Description, Rules: p.Rules, CreateIndex: p.CreateIndex, ModifyIndex: p.ModifyIndex}
}

// tokenJSON is a token in -o json; secret_id only in the answer that
// created it.
type tokenJSON struct {
	AccessorID     string     `json:"accessor_id"`
	SecretID       string     `json:"secret_id,omitempty"`
	Description    string     `json:"description"`
	Policies       []string   `json:"policies"`
	Management     bool       `json:"management"`
	CreateTime     time.Time  `json:"create_time"`
	ExpirationTime *time.Time `json:"expiration_time"`
	CreateIndex    uint64     `json:"create_index"`
	ModifyIndex    uint64     `json:"modify_index"`
}

func tokenOut(t *pb.ACLTokenView) tokenJSON {
	out := tokenJSON{AccessorID: t.AccessorId, SecretID: t.SecretId, Description: t.Description, Policies: t.Policies,
		Management: t.Management, CreateTime: time.Unix(0, t.CreateTimeUnixNano).UTC(), CreateIndex: t.CreateIndex, ModifyIndex: t.ModifyIndex}
	if out.Policies == nil {
		out.Policies = []string{}
	}
	if t.ExpirationTimeUnixNano != 0 {
		e := time.Unix(0, t.ExpirationTimeUnixNano).UTC()
		out.ExpirationTime = &e
	}
	return out
}

func printToken(cmd *cobra.Command, o string, t *pb.ACLTokenView) error {
	if o == "json" {
		return writeJSON(cmd.OutOrStdout(), tokenOut(t))
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "AccessorID:   %s\n", t.AccessorId)
	if t.SecretId != "" {
		fmt.Fprintf(w, "SecretID:     %s  (shown once: it is stored hashed)\n", t.SecretId)
	}
	fmt.Fprintf(w, "Description:  %s\n", cell(t.Description, 200))
	if t.Management {
		fmt.Fprintf(w, "Management:   yes (may do everything)\n")
	}
	fmt.Fprintf(w, "Policies:     %s\n", strings.Join(t.Policies, ", "))
	fmt.Fprintf(w, "Created:      %s (index %d)\n", time.Unix(0, t.CreateTimeUnixNano).UTC().Format(time.RFC3339), t.CreateIndex)
	if t.ExpirationTimeUnixNano != 0 {
		fmt.Fprintf(w, "Expires:      %s\n", time.Unix(0, t.ExpirationTimeUnixNano).UTC().Format(time.RFC3339))
	}
	return nil
}

func newACLBootstrapCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "bootstrap [SECRET_FILE|-]", Short: "Create the first management token (once per cluster)",
		Long: "Create the first management token, once per cluster. Its secret ID is made by the leader, or read from\n" +
			"SECRET_FILE (- for standard input: a UUID, as Consul's and Nomad's bootstrap take one), so automation\n" +
			"knows it before the call and can tell, after an answer lost to a leader change, that its bootstrap applied.",
		Args: cobra.MaximumNArgs(1)}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		req := &pb.ACLBootstrapRequest{}
		if len(args) == 1 {
			data, err := readInput(cmd, "SECRET_FILE", args[0], 1024)
			if err != nil {
				return err
			}
			req.BootstrapSecret = strings.TrimSpace(string(data))
			if !acl.ValidUUID(req.BootstrapSecret) {
				return usageError(fmt.Sprintf("acl bootstrap: %s does not hold a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", args[0]))
			}
		}
		r, err := g.dialACL(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.Bootstrap(r.ctx, req)
		if err != nil {
			return g.rpcError(err)
		}
		return printToken(cmd, *out, resp.Token)
	}
	return cmd
}

func newACLPolicyCreateCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "create --name NAME --rules FILE|-", Short: "Create or replace a policy from HCL or JSON rules", Args: cobra.NoArgs}
	name := cmd.Flags().String("name", "", "the policy's name (required)")
	rules := cmd.Flags().String("rules", "", "the rules file, or - for standard input (required)")
	desc := cmd.Flags().String("description", "", "what the policy is for")
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if *name == "" {
			return usageError("acl policy create: --name is required")
		}
		if *rules == "" {
			return usageError("acl policy create: --rules FILE (or - for standard input) is required")
		}
		data, err := readInput(cmd, "rules", *rules, acl.MaxRulesBytes)
		if err != nil {
			return err
		}
		r, err := g.dialACL(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.PolicyUpsert(r.ctx, &pb.ACLPolicyUpsertRequest{Name: *name, Description: *desc, Rules: string(data)})
		if err != nil {
			return g.rpcError(err)
		}
		if *out == "json" {
			return writeJSON(cmd.OutOrStdout(), policyOut(resp.Policy))
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Policy %s written (index %d)\n", resp.Policy.Name, resp.Index)
		return nil
	}
	return cmd
}

func newACLPolicyListCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "List the policies", Args: cobra.NoArgs}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		r, err := g.dialACL(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.PolicyList(r.ctx, &pb.ACLListRequest{})
		if err != nil {
			return g.rpcError(err)
		}
		if *out == "json" {
			ps := []policyJSON{}
			for _, p := range resp.Policies {
				ps = append(ps, policyOut(p))
			}
			return writeJSON(cmd.OutOrStdout(), ps)
		}
		t := newTable(cmd.OutOrStdout(), "NAME", "DESCRIPTION", "MODIFIED")
		for _, p := range resp.Policies {
			t.row(p.Name, cell(p.Description, 60), p.ModifyIndex)
		}
		return t.flush()
	}
	return cmd
}

func newACLPolicyReadCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "read NAME", Short: "Show a policy and its rules", Args: cobra.ExactArgs(1)}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		r, err := g.dialACL(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.PolicyRead(r.ctx, &pb.ACLPolicyReadRequest{Name: args[0]})
		if err != nil {
			return g.rpcError(err)
		}
		if *out == "json" {
			return writeJSON(cmd.OutOrStdout(), policyOut(resp.Policy))
		}
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "Name:         %s\nDescription:  %s\nRules:\n%s\n", resp.Policy.Name, cell(resp.Policy.Description, 200), resp.Policy.Rules)
		return nil
	}
	return cmd
}

func newACLPolicyDeleteCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "delete NAME", Short: "Delete a policy no token uses", Args: cobra.ExactArgs(1)}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		r, err := g.dialACL(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		if _, err := r.c.PolicyDelete(r.ctx, &pb.ACLPolicyDeleteRequest{Name: args[0]}); err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Policy %s deleted\n", args[0])
		return nil
	}
	return cmd
}

func newACLTokenCreateCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "create --policy NAME [--policy NAME...]", Short: "Create a token with policies; its secret is shown once", Args: cobra.NoArgs}
	policies := cmd.Flags().StringArray("policy", nil, "a policy the token carries (repeat for several; required)")
	desc := cmd.Flags().String("description", "", "what the token is for")
	ttl := cmd.Flags().Duration("ttl", 0, "expire the token after this long (0: never)")
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if len(*policies) == 0 {
			return usageError("acl token create: at least one --policy is required")
		}
		if *ttl < 0 || *ttl > acl.MaxTokenTTL {
			return usageError(fmt.Sprintf("acl token create: --ttl %s: use 0 (never) up to %s", *ttl, acl.MaxTokenTTL))
		}
		if *ttl > 0 && *ttl < time.Millisecond {
			return usageError(fmt.Sprintf("acl token create: --ttl %s is under a millisecond", *ttl))
		}
		r, err := g.dialACL(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.TokenCreate(r.ctx, &pb.ACLTokenCreateRequest{Description: *desc, Policies: *policies, TtlMs: ttl.Milliseconds()})
		if err != nil {
			return g.rpcError(err)
		}
		return printToken(cmd, *out, resp.Token)
	}
	return cmd
}

func newACLTokenListCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "List the tokens (accessors, never secrets)", Args: cobra.NoArgs}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		r, err := g.dialACL(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.TokenList(r.ctx, &pb.ACLListRequest{})
		if err != nil {
			return g.rpcError(err)
		}
		if *out == "json" {
			ts := []tokenJSON{}
			for _, t := range resp.Tokens {
				ts = append(ts, tokenOut(t))
			}
			return writeJSON(cmd.OutOrStdout(), ts)
		}
		t := newTable(cmd.OutOrStdout(), "ACCESSOR", "DESCRIPTION", "POLICIES", "EXPIRES")
		for _, tok := range resp.Tokens {
			pol := strings.Join(tok.Policies, ",")
			if tok.Management {
				pol = "(management)"
			}
			exp := "never"
			if tok.ExpirationTimeUnixNano != 0 {
				exp = time.Unix(0, tok.ExpirationTimeUnixNano).UTC().Format(time.RFC3339)
			}
			t.row(tok.AccessorId, cell(tok.Description, 40), cell(pol, 60), exp)
		}
		return t.flush()
	}
	return cmd
}

func newACLTokenReadCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "read ACCESSOR", Short: "Show a token by its accessor ID", Args: cobra.ExactArgs(1)}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		r, err := g.dialACL(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.TokenRead(r.ctx, &pb.ACLTokenReadRequest{AccessorId: args[0]})
		if err != nil {
			return g.rpcError(err)
		}
		return printToken(cmd, *out, resp.Token)
	}
	return cmd
}

func newACLTokenSelfCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "self", Short: "Show the token this command sends (--token, STEWARD_TOKEN)", Args: cobra.NoArgs}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		r, err := g.dialACL(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.TokenSelf(r.ctx, &pb.ACLTokenSelfRequest{})
		if err != nil {
			return g.rpcError(err)
		}
		return printToken(cmd, *out, resp.Token)
	}
	return cmd
}

func newACLTokenDeleteCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "delete ACCESSOR", Short: "Revoke a token", Args: cobra.ExactArgs(1)}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		r, err := g.dialACL(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		if _, err := r.c.TokenDelete(r.ctx, &pb.ACLTokenDeleteRequest{AccessorId: args[0]}); err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Token %s deleted\n", args[0])
		return nil
	}
	return cmd
}
