// Command verify-upstream is an example SOAP upstream behind authsvc: it
// trusts the caller's identity only from the signed assertion
// (X-Authenticated-Assertion), which it verifies against authsvc's JWKS.
//
//	go run ./examples/verify-upstream -listen 127.0.0.1:9000 \
//	    -jwks http://127.0.0.1:8080/.well-known/jwks.json \
//	    -issuer https://authsvc.example.test -audience soap-backend
//
// The plain X-Authenticated-* headers are ignored here: anyone who can
// reach the upstream directly could set them. See docs/identity.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Claims are the assertion's claims (see docs/identity.md).
type Claims struct {
	jwt.Claims
	AuthMethod string   `json:"auth_method"`
	TokenType  string   `json:"token_type"`
	Groups     []string `json:"groups"`
	Realm      string   `json:"realm"`
	RequestID  string   `json:"request_id"`
}

// Verifier checks assertions against a JWKS fetched over HTTP. It caches
// the key set and refetches it when a token names an unknown kid (at most
// once per MinRefresh), so that key rotation needs no restart.
type Verifier struct {
	JWKSURL    string
	Issuer     string
	Audience   string
	Client     *http.Client
	MinRefresh time.Duration
	// Leeway tolerates clock skew (default 30 s).
	Leeway time.Duration
	Now    func() time.Time

	mu      sync.Mutex
	keys    jose.JSONWebKeySet
	fetched time.Time
}

// algorithms are the only ones accepted: never "none", never HMAC.
var algorithms = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256, jose.ES384, jose.RS256}

// Verify parses and checks a compact JWT.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	tok, err := jwt.ParseSigned(token, algorithms)
	if err != nil {
		return nil, err
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		return nil, errors.New("assertion has no kid")
	}
	key, err := v.key(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return nil, err
	}
	if key.Algorithm != "" && key.Algorithm != tok.Headers[0].Algorithm {
		return nil, fmt.Errorf("algorithm %s does not match key %s", tok.Headers[0].Algorithm, key.Algorithm)
	}
	var c Claims
	if err := tok.Claims(key.Key, &c); err != nil {
		return nil, err
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	leeway := v.Leeway
	if leeway == 0 {
		leeway = 30 * time.Second
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: v.Issuer, AnyAudience: jwt.Audience{v.Audience}, Time: now()}, leeway); err != nil {
		return nil, err
	}
	if c.Subject == "" || c.Expiry == nil {
		return nil, errors.New("assertion lacks sub or exp")
	}
	return &c, nil
}

func (v *Verifier) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ks := v.keys.Key(kid); len(ks) == 1 {
		return &ks[0], nil
	}
	min := v.MinRefresh
	if min == 0 {
		min = 10 * time.Second
	}
	if !v.fetched.IsZero() && time.Since(v.fetched) < min {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	if err := v.fetch(ctx); err != nil {
		return nil, err
	}
	if ks := v.keys.Key(kid); len(ks) == 1 {
		return &ks[0], nil
	}
	return nil, fmt.Errorf("unknown kid %q", kid)
}

func (v *Verifier) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.JWKSURL, nil)
	if err != nil {
		return err
	}
	c := v.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwks: status %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	v.keys, v.fetched = set, time.Now()
	return nil
}

type ctxKey struct{}

// Middleware refuses requests without a valid assertion (401) and puts the
// claims in the request context.
func (v *Verifier) Middleware(header string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Verify(r.Context(), r.Header.Get(header))
		if err != nil {
			log.Printf("refused: %v", err)
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, c)))
	})
}

// ClaimsFrom returns the verified claims of a request.
func ClaimsFrom(ctx context.Context) *Claims {
	c, _ := ctx.Value(ctxKey{}).(*Claims)
	return c
}

func echo(w http.ResponseWriter, r *http.Request) {
	c := ClaimsFrom(r.Context())
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprintf(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><EchoResponse>hello %s (%s)</EchoResponse></s:Body></s:Envelope>`,
		c.Subject, c.AuthMethod)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	jwks := flag.String("jwks", "http://127.0.0.1:8080/.well-known/jwks.json", "authsvc's JWKS URL")
	issuer := flag.String("issuer", "", "expected iss (authsvc's identity.issuer)")
	audience := flag.String("audience", "", "this service's audience (one of identity.audience)")
	header := flag.String("header", "X-Authenticated-Assertion", "header carrying the assertion")
	flag.Parse()
	v := &Verifier{JWKSURL: *jwks, Issuer: *issuer, Audience: *audience}
	log.Printf("listening on %s", *listen)
	log.Fatal(http.ListenAndServe(*listen, v.Middleware(*header, http.HandlerFunc(echo))))
}
