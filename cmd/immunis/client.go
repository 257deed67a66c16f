package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/store"
)

// clientCmd is `immunis client add|list|remove|disable|enable`: the SMART
// Backend Services clients the token endpoint (POST /auth/token) serves,
// kept in the database so that every replica knows them.
func clientCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, `usage: immunis client add --id ID (--jwks-file FILE | --jwks-url URL) --scope SCOPES
       immunis client list
       immunis client remove --id ID
       immunis client disable --id ID
       immunis client enable --id ID

Database settings as for serve (--database-url, --data-dir or their IMMUNIS_* twins).`)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub := args[0]
	var c Config
	var id, jwksFile, jwksURL, scope string
	s := newSettings("client "+sub, stderr)
	registerCommon(s, &c)
	switch sub {
	case "add":
		s.fs.StringVar(&jwksFile, "jwks-file", "", "file with the client's public JWKS (RS384 or ES384 keys with kid)")
		s.fs.StringVar(&jwksURL, "jwks-url", "", "https URL where the client publishes its JWKS")
		s.fs.StringVar(&scope, "scope", "", `space-separated system/ scopes the client may be granted, e.g. "system/*.rs"`)
		fallthrough
	case "remove", "disable", "enable":
		s.fs.StringVar(&id, "id", "", "client_id (the iss and sub of its assertions)")
	case "list":
	default:
		fmt.Fprintf(stderr, "immunis client: unknown subcommand %q\n", sub)
		usage()
		return 2
	}
	if err := s.parse(args[1:]); err != nil {
		if errors.Is(err, flagHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "immunis client %s: %v\n", sub, err)
		return 2
	}
	if sub != "list" && id == "" {
		fmt.Fprintf(stderr, "immunis client %s: --id is required\n", sub)
		return 2
	}
	db, err := openStore(ctx, &c, newLogger(&c, stderr))
	if err != nil {
		fmt.Fprintf(stderr, "immunis client %s: %v\n", sub, err)
		return 1
	}
	defer db.Close()
	cs := db.Clients()
	switch sub {
	case "add":
		err = addClient(ctx, cs, id, jwksFile, jwksURL, scope)
		if err == nil {
			fmt.Fprintf(stdout, "client %s registered\n", id)
		}
	case "list":
		err = listClients(ctx, cs, stdout)
	case "remove":
		err = cs.DeleteClient(ctx, id)
		if err == nil {
			fmt.Fprintf(stdout, "client %s removed\n", id)
		}
	case "disable", "enable":
		err = setDisabled(ctx, cs, id, sub == "disable")
		if err == nil {
			fmt.Fprintf(stdout, "client %s %sd\n", id, sub)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "immunis client %s: %v\n", sub, err)
		return 1
	}
	return 0
}

// addClient registers (or replaces) a client after auth.ValidateClient.
func addClient(ctx context.Context, cs *store.ClientStore, id, jwksFile, jwksURL, scope string) error {
	cl := &auth.Client{ID: id, JWKSURL: jwksURL, Scopes: strings.Fields(scope)}
	if (jwksFile == "") == (jwksURL == "") {
		return errors.New("give exactly one of --jwks-file and --jwks-url")
	}
	if len(cl.Scopes) == 0 {
		return errors.New("--scope is required (system/ scopes)")
	}
	if id == devClientID {
		// Dev mode accepts this client's tokens without registration.
		return fmt.Errorf("client id %q is reserved for tokens minted by immunis token", id)
	}
	if jwksFile != "" {
		b, err := os.ReadFile(jwksFile)
		if err != nil {
			return err
		}
		if !json.Valid(b) {
			return fmt.Errorf("%s is not JSON", jwksFile)
		}
		cl.JWKS = json.RawMessage(b)
	}
	if err := auth.ValidateClient(cl); err != nil {
		return err
	}
	return cs.PutClient(ctx, cl)
}

func listClients(ctx context.Context, cs *store.ClientStore, w io.Writer) error {
	list, err := cs.ListClients(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKEYS\tSCOPES\tSTATUS")
	for _, cl := range list {
		keys, status := "inline JWKS", "enabled"
		if cl.JWKSURL != "" {
			keys = cl.JWKSURL
		}
		if cl.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cl.ID, keys, strings.Join(cl.Scopes, " "), status)
	}
	return tw.Flush()
}

func setDisabled(ctx context.Context, cs *store.ClientStore, id string, disabled bool) error {
	cl, err := cs.GetClient(ctx, id)
	if err != nil {
		return err
	}
	cl.Disabled = disabled
	return cs.PutClient(ctx, cl)
}
