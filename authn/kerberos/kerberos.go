// Package kerberos is the Kerberos login module: the OASIS Web Services
// Security Kerberos Token Profile 1.1 (a wsse:BinarySecurityToken carrying a
// KRB_AP_REQ, raw, GSS-framed or inside SPNEGO), Microsoft WSE 2.0's
// Kerberosv5ST token, and HTTP Negotiate (RFC 4559) through the same module
// and into the same Subject.
//
// A token is checked like this, and each failure has its own reason in the
// fault (for the log):
//
//  1. the token is unwrapped (RFC 2743 framing, krb5 mech OID, TOK_ID 01 00;
//     an RFC 4178 NegTokenInit whose first mech is krb5) and the AP-REQ decoded;
//  2. the ticket's service principal must be one of service_principals:
//     a keytab with several keys does not make this service accept tickets
//     for the others;
//  3. the key is taken from the keytabs by principal, kvno and enctype
//     (unknown kvno, unsupported enctype and a key that does not decrypt the
//     ticket are told apart);
//  4. the ticket is decrypted, or taken from a bounded cache of decrypted
//     tickets keyed by a hash of its ciphertext, and its start and end times
//     checked against the request time with the clock skew, its client
//     realm against realms, and a cross-realm transited path against
//     trusted_transit_realms or the KDC's TRANSITED-POLICY-CHECKED flag
//     (transit.go);
//  5. the authenticator is decrypted with the session key; its client name
//     and realm must be the ticket's (the identity is the ticket's), and its
//     time within the clock skew;
//  6. the authenticator is recorded in the replay cache under a hash of its
//     ciphertext: with a cache shared by the replicas a replay to another
//     replica is caught too, and two honest clients whose (client, ctime,
//     cusec) collide, as MIT clients' often do, are not mistaken for a replay;
//  7. a PAC is decoded only when it carries logon information (Active
//     Directory); its group SIDs become groups. MIT's PACs carry none.
//
// When the client asks for mutual authentication (the AP option or the GSS
// mutual flag) on HTTP Negotiate, the module builds the AP-REP itself and
// puts it in Subject.Reply.Negotiate (the server sends it as
// WWW-Authenticate: Negotiate <token>). An SPNEGO client always gets the
// final NegTokenResp (accept-completed), with or without an AP-REP, since
// its context completes only on it; a mechListMIC in its NegTokenInit is
// verified before the authenticator is recorded, and answered with ours
// (RFC 4178 5, as MIT's acceptor does).
// Client addresses in tickets are not checked (they mean nothing behind
// proxies and NAT, and MIT issues address-less tickets by default), nor are
// GSS channel bindings.
//
// Besides the OASIS shapes, the pre-OASIS ones of WSE 1.0/2.0 and FileNet
// (a 2002 secext Security header, ValueType="wsse:Kerberosv5ST") are taken
// as Kerberos tokens (wse.go).
//
// WCF clients send a plain Kerberos BinarySecurityToken only with
// negotiateServiceCredential=false and establishSecurityContext=false;
// otherwise they negotiate over WS-Trust and then use a SecurityContextToken,
// which this module does not handle.
package kerberos

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/pac"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/keytabs"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/wsse"
)

// Value types of the Kerberos Token Profile 1.1 and WSE 2.0.
const (
	NSTokenProfile = "http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1"
	ValueTypeWSE   = "http://schemas.xmlsoap.org/ws/2003/12/kerberos/Kerberosv5ST"
)

var valueTypes = map[string]string{
	NSTokenProfile + "#Kerberosv5_AP_REQ":         "Kerberosv5_AP_REQ",
	NSTokenProfile + "#GSS_Kerberosv5_AP_REQ":     "GSS_Kerberosv5_AP_REQ",
	NSTokenProfile + "#Kerberosv5_AP_REQ1510":     "Kerberosv5_AP_REQ1510",
	NSTokenProfile + "#GSS_Kerberosv5_AP_REQ1510": "GSS_Kerberosv5_AP_REQ1510",
	NSTokenProfile + "#Kerberosv5_AP_REQ4120":     "Kerberosv5_AP_REQ4120",
	NSTokenProfile + "#GSS_Kerberosv5_AP_REQ4120": "GSS_Kerberosv5_AP_REQ4120",
	ValueTypeWSE: "Kerberosv5ST",
}

// IsKerberosValueType reports whether a BinarySecurityToken ValueType URI is
// one this module takes. The module also takes the pre-OASIS QName
// wsse:Kerberosv5ST (see wse.go), which needs the namespaces in scope.
func IsKerberosValueType(vt string) bool { _, ok := valueTypes[vt]; return ok }

// Defaults.
const (
	DefaultClockSkew       = 5 * time.Minute
	DefaultTicketCacheSize = 10000
	DefaultMaxTokenBytes   = 64 << 10
)

// MapRule maps a client principal to a local name, like a simplified
// auth_to_local RULE: Match is a regular expression over "name@REALM"
// (anchored at both ends); Principal is the replacement ($1 etc.).
type MapRule struct {
	// Match is a regular expression over "name@REALM", anchored.
	Match string `yaml:"match"`
	// Principal is the local name it maps to ($1 etc. from Match).
	Principal string `yaml:"principal"`
}

// Config is the module's configuration and its factory.
//
//	type: kerberos
//	keytab: /etc/authsvc/http.keytab
//	service_principals: [HTTP/soap.example.com@EXAMPLE.COM]
//	clock_skew: 5m
//	realms: [EXAMPLE.COM, CHILD.EXAMPLE.COM]
//	strip_realm: true
//	principal_map:
//	  - {match: '(.*)@CHILD\.EXAMPLE\.COM', principal: 'child-$1'}
type Config struct {
	// Keytab and Keytabs name the keytab files (one, the other or both).
	Keytab  string   `yaml:"keytab"`
	Keytabs []string `yaml:"keytabs"`
	// ServicePrincipals are the principals (service/host@REALM) whose
	// tickets this service accepts.
	ServicePrincipals []string `yaml:"service_principals"`
	// ClockSkew is the tolerance for authenticator and ticket times
	// (default 5m).
	ClockSkew time.Duration `yaml:"clock_skew"`
	// Realms are the client realms accepted (default: the realms of the
	// service principals; cross-realm clients need listing).
	Realms []string `yaml:"realms"`
	// StripRealm (default true) makes Subject.Principal the name without
	// the realm ("alice"); false keeps "alice@EXAMPLE.TEST". Subject.Realm
	// is the client's realm either way.
	StripRealm *bool `yaml:"strip_realm"`
	// PrincipalMap rules are tried in order before StripRealm applies; the
	// first match gives the principal.
	PrincipalMap []MapRule `yaml:"principal_map"`
	// DecodePAC (default true) reads group SIDs from a PAC that carries
	// logon information (Active Directory).
	DecodePAC *bool `yaml:"decode_pac"`
	// TicketCacheSize bounds the decrypted-ticket cache (default 10000;
	// negative disables it).
	TicketCacheSize int `yaml:"ticket_cache_size"`
	// KeytabReload is how often the keytab files are checked for changes
	// (default 10s; negative: never).
	KeytabReload time.Duration `yaml:"keytab_reload"`
	// MaxTokenBytes bounds a decoded token (default 64 KiB; AD tickets
	// with large PACs reach 48 KiB).
	MaxTokenBytes int `yaml:"max_token_bytes"`
	// Enctypes are the encryption types accepted for the ticket and its
	// session key (default DefaultEnctypes: AES and AES-SHA2; rc4-hmac and
	// DES are refused unless listed).
	Enctypes Enctypes `yaml:"enctypes"`
	// TrustedTransitRealms are the realms a cross-realm ticket's transited
	// path (RFC 4120 3.3.3.2) may name. A ticket whose path names another
	// realm is refused unless the KDC checked the path (see
	// TrustKDCTransitCheck).
	TrustedTransitRealms []string `yaml:"trusted_transit_realms"`
	// TrustKDCTransitCheck (default true) accepts a ticket whose path the
	// service realm's KDC checked against its own policy (the
	// TRANSITED-POLICY-CHECKED flag, MIT's [capaths]); false: every realm
	// of the path must be in TrustedTransitRealms.
	TrustKDCTransitCheck *bool `yaml:"trust_kdc_transit_check"`
}

// Deps are the module's dependencies.
type Deps struct {
	// Replay records authenticators. Required.
	Replay replay.Cache
	// Keytabs, if set, is used instead of opening Config's files.
	Keytabs *keytabs.Set
	// Now is the clock for requests that carry no time (default time.Now).
	Now func() time.Time
}

type mapRule struct {
	re  *regexp.Regexp
	out string
}

// Module is the Kerberos login module.
type Module struct {
	keys       *keytabs.Set
	ownKeys    bool
	replay     replay.Cache
	now        func() time.Time
	log        *slog.Logger
	spns       map[string]bool
	spnList    string
	realms     map[string]bool
	skew       time.Duration
	enctypes   map[int32]bool
	stripRealm bool
	rules      []mapRule
	decodePAC  bool
	tickets    *ticketCache
	maxToken   int

	transit         map[string]bool
	trustKDCTransit bool
}

var (
	_ authn.Module     = (*Module)(nil)
	_ authn.Challenger = (*Module)(nil)
	_ authn.Checker    = (*Module)(nil)
)

// Close stops the keytab reloader the module started.
func (m *Module) Close() error {
	if m.ownKeys {
		return m.keys.Close()
	}
	return nil
}

// Reload re-reads the module's keytab files now if they changed (SIGHUP),
// besides the keytab_reload polling; on an error the keys loaded before
// stay in use. Keytabs given to the module (Deps) are the giver's to
// reload.
func (m *Module) Reload() error {
	if !m.ownKeys {
		return nil
	}
	_, err := m.keys.Reload()
	return err
}

// Challenge implements authn.Challenger.
func (m *Module) Challenge() string { return "Negotiate" }

// Check implements authn.Checker: the keytabs still hold every service
// principal's key.
func (m *Module) Check(context.Context) error {
	for spn := range m.spns {
		if !m.keys.Has(spn) {
			return fmt.Errorf("kerberos: %s has no key in the keytab: %w", spn, authn.ErrUnavailable)
		}
	}
	return nil
}

// Login implements authn.Module.
func (m *Module) Login(ctx context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
	raw, method, tokenType, at, err := m.credential(req)
	if err != nil {
		return false, err
	}
	now := req.Now
	if now.IsZero() {
		now = m.now()
	}
	res, err := m.AcceptFrom(ctx, raw, now, req.Client)
	if err != nil {
		var f *authn.Fault
		if method == "Negotiate" && errors.As(err, &f) {
			f.Challenge = "Negotiate"
		}
		return false, err
	}
	if method == "Negotiate" {
		switch res.Token.Framing {
		case FrameSPNEGO:
			tokenType = "SPNEGO"
		case FrameGSS:
			tokenType = "GSS_Kerberosv5_AP_REQ"
		default:
			tokenType = "Kerberosv5_AP_REQ"
		}
		if res.HasReply() {
			rep, err := res.Reply()
			if err != nil {
				return false, fmt.Errorf("kerberos: building the reply token: %w", err)
			}
			s.Reply = &authn.Reply{Negotiate: rep}
		}
	}
	s.Principal = res.Principal
	s.Realm = res.ClientRealm
	s.Method = method
	s.TokenType = tokenType
	full := res.ClientName + "@" + realmString(res.ClientRealm)
	s.AddAttribute("kerberos_principal", full)
	if p := res.PAC; p != nil {
		s.AddGroups(p.GroupSIDs...)
		if p.UserSID != "" {
			s.AddAttribute("sid", p.UserSID)
		}
		if len(p.GroupSIDs) > 0 {
			s.AddAttribute("group_sids", p.GroupSIDs...)
		}
		if p.PrimaryGroupSID != "" {
			s.AddAttribute("primary_group_sid", p.PrimaryGroupSID)
		}
		if p.LogonDomain != "" {
			s.AddAttribute("logon_domain", p.LogonDomain)
		}
		if p.AccountName != "" {
			s.AddAttribute("account_name", p.AccountName)
		}
		if p.LogonServer != "" {
			s.AddAttribute("logon_server", p.LogonServer)
		}
		if p.FullName != "" {
			s.AddAttribute("full_name", p.FullName)
		}
	}
	req.SetShared("kerberos_principal", full)
	if at >= 0 {
		req.MarkProcessedAt(at) // the BinarySecurityToken this login verified
	}
	return true, nil
}

// credential finds the token: a Kerberos BinarySecurityToken in the
// Security header first, else an Authorization: Negotiate header. at is the
// token element's offset (its Start), -1 for the header.
func (m *Module) credential(req *authn.Request) (raw []byte, method, tokenType string, at int, err error) {
	at = -1
	var bst *wsse.BinarySecurityToken
	if sec := req.Security(); sec != nil {
		if bst, tokenType, err = kerberosToken(sec); err != nil {
			return nil, "", "", -1, err
		}
	}
	if bst != nil {
		if !base64Encoded(bst) {
			return nil, "", "", -1, authn.Reject(wsse.InvalidSecurityToken, "Kerberos token with EncodingType %q, not Base64Binary", bst.EncodingType)
		}
		raw, err := m.decodeB64(strings.Map(dropSpace, bst.Value))
		if err != nil {
			return nil, "", "", -1, authn.Reject(wsse.InvalidSecurityToken, "Kerberos BinarySecurityToken: %v", err)
		}
		return raw, "Kerberos", tokenType, bst.Start, nil
	}
	scheme, val, _ := strings.Cut(strings.TrimSpace(req.Authorization), " ")
	if !strings.EqualFold(scheme, "Negotiate") {
		return nil, "", "", -1, authn.ErrUnsupported
	}
	raw, err = m.decodeB64(strings.TrimSpace(val))
	if err != nil {
		f := authn.Reject(wsse.InvalidSecurityToken, "Authorization: Negotiate: %v", err)
		f.Challenge = "Negotiate"
		return nil, "", "", -1, f
	}
	return raw, "Negotiate", "", -1, nil
}

func dropSpace(r rune) rune {
	if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
		return -1
	}
	return r
}

func (m *Module) decodeB64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty token")
	}
	if base64.StdEncoding.DecodedLen(len(s)) > m.maxToken+2 {
		return nil, fmt.Errorf("token longer than %d bytes", m.maxToken)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("token is not Base64")
	}
	return b, nil
}

// PAC is what an Active Directory PAC (KERB_VALIDATION_INFO, MS-PAC 2.5)
// said about the client. The Subject gets them as attributes: sid,
// group_sids, primary_group_sid, logon_domain (the NetBIOS domain, ADEX),
// account_name (sAMAccountName), logon_server, full_name; and the group SIDs
// as groups, which authn/enrich can turn into names.
type PAC struct {
	UserSID         string
	GroupSIDs       []string
	PrimaryGroupSID string
	LogonDomain     string
	AccountName     string
	LogonServer     string
	FullName        string
}

type pacInfo = PAC

// Result is an accepted AP-REQ.
type Result struct {
	// Principal is the mapped local name; ClientName and ClientRealm the
	// ticket's client ("alice", "EXAMPLE.TEST").
	Principal   string
	ClientName  string
	ClientRealm string
	// Service is the ticket's service principal (name@REALM).
	Service string
	// Mutual says the client asked for mutual authentication.
	Mutual bool
	// Token is the unwrapped token.
	Token Token
	// PAC is set when the ticket carried AD logon information.
	PAC     *PAC
	EndTime time.Time

	ctime      time.Time
	cusec      int
	sessionKey types.EncryptionKey
	keys       *sessionKeys // nil: derive through gokrb5
	micKey     types.EncryptionKey
	initSeq    uint32 // the authenticator's sequence number
}

// apRep builds the AP-REP (RFC 4120 5.5.2) with our sequence number seq,
// DER-encoded by hand (encAPRepPart, apRepDER).
func (r *Result) apRep(seq uint32) ([]byte, error) {
	b := encAPRepPart(r.ctime, r.cusec, int64(seq))
	var ed types.EncryptedData
	var err error
	if r.keys != nil {
		ed, err = r.keys.encryptReply(b)
	} else {
		ed, err = crypto.GetEncryptedData(b, r.sessionKey, keyusage.AP_REP_ENCPART, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("kerberos: encrypting EncAPRepPart: %w", err)
	}
	return apRepDER(ed), nil
}

func reject(code wsse.FaultCode, format string, args ...any) error {
	return authn.Reject(code, format, args...)
}

// principalString renders a principal name as RFC 1964 section 2.1.1 and
// MIT's krb5_unparse_name do: components joined by "/", with "\\", "/"
// and "@" inside a component (and the control characters MIT escapes)
// escaped by a backslash, so that the one-component name "mallory@EVIL.TEST"
// of realm EXAMPLE.TEST renders as mallory\@EVIL.TEST@EXAMPLE.TEST and is
// not mistaken for mallory of EVIL.TEST.
func principalString(p types.PrincipalName) string {
	if len(p.NameString) == 1 && !strings.ContainsAny(p.NameString[0], nameSpecials) {
		return p.NameString[0]
	}
	var b strings.Builder
	for i, c := range p.NameString {
		if i > 0 {
			b.WriteByte('/')
		}
		escapeComponent(&b, c, "/@")
	}
	return b.String()
}

// realmString renders a realm as MIT does: "\\" and "@" escaped.
func realmString(r string) string {
	if !strings.ContainsAny(r, nameSpecials) {
		return r
	}
	var b strings.Builder
	escapeComponent(&b, r, "@")
	return b.String()
}

const nameSpecials = "\\/@\n\t\b\x00"

func escapeComponent(b *strings.Builder, c, specials string) {
	for i := 0; i < len(c); i++ {
		switch ch := c[i]; {
		case ch == '\\' || strings.IndexByte(specials, ch) >= 0:
			b.WriteByte('\\')
			b.WriteByte(ch)
		case ch == '\n':
			b.WriteString(`\n`)
		case ch == '\t':
			b.WriteString(`\t`)
		case ch == '\b':
			b.WriteString(`\b`)
		case ch == 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(ch)
		}
	}
}

// safely contains a panic in a decoder as a malformed token: gokrb5's
// ASN.1 decoder is not hardened against every malformed input (it still
// decodes the ticket's encrypted part and the PAC); ours (der.go) is fuzzed
// and indexes nothing unchecked, and is guarded all the same.
func safely(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: decoder panic", ErrToken)
		}
	}()
	return fn()
}

// Accept verifies a token (raw, GSS or SPNEGO) at time now. It returns a
// *authn.Fault for a rejection and another error only for a technical
// failure (the replay cache).
func (m *Module) Accept(ctx context.Context, raw []byte, now time.Time) (*Result, error) {
	return m.AcceptFrom(ctx, raw, now, netip.Addr{})
}

// AcceptFrom is Accept for a token sent from the client address from: the
// replay-cache entry is charged to the ticket's principal and to from
// (replay.Owner). The steps are those of the package comment.
func (m *Module) AcceptFrom(ctx context.Context, raw []byte, now time.Time, from netip.Addr) (*Result, error) {
	var ap messages.APReq
	tok, err := m.decodeAPReq(raw, &ap)
	if err != nil {
		return nil, err
	}
	info, spn, err := m.ticket(&ap, now)
	if err != nil {
		return nil, err
	}
	enc := &info.enc
	client := principalString(enc.CName)
	auth, ct, err := m.authenticator(&ap, enc, info.keys, now)
	if err != nil {
		return nil, err
	}
	mk := micKey(&auth, enc.Key)
	if err := m.checkMechListMIC(&tok, mk, client+"@"+realmString(enc.CRealm)); err != nil {
		return nil, err
	}
	if err := m.recordAuthenticator(ctx, &ap, enc, spn, ct, from); err != nil {
		return nil, err
	}
	local, err := m.localName(client, realmString(enc.CRealm))
	if err != nil {
		return nil, err
	}
	res := &Result{
		Principal: local, ClientName: client, ClientRealm: enc.CRealm, Service: spn,
		Token: tok, PAC: info.pac, EndTime: enc.EndTime,
		ctime: auth.CTime, cusec: auth.Cusec, sessionKey: enc.Key, keys: info.keys,
		micKey: mk, initSeq: uint32(auth.SeqNumber),
	}
	res.Mutual = types.IsFlagSet(&ap.APOptions, flags.APOptionMutualRequired)
	if auth.Cksum.CksumType == 0x8003 && len(auth.Cksum.Checksum) >= 24 {
		// RFC 4121 4.1.1: the GSS checksum's flags; 2 is GSS_C_MUTUAL_FLAG.
		if binary.LittleEndian.Uint32(auth.Cksum.Checksum[20:24])&2 != 0 {
			res.Mutual = true
		}
	}
	return res, nil
}

// derHook, set by the tests only, sees each AP-REQ and Authenticator the
// module decodes (authenticator: the plaintext of one), to compare
// der.go's decoding with gokrb5's over every token the tests make.
var derHook func(authenticator bool, der []byte)

// decodeAPReq unwraps the token (step 1) and decodes its AP-REQ into ap
// (der.go).
func (m *Module) decodeAPReq(raw []byte, ap *messages.APReq) (Token, error) {
	if len(raw) > m.maxToken {
		return Token{}, reject(wsse.InvalidSecurityToken, "token of %d bytes, more than %d", len(raw), m.maxToken)
	}
	tok, err := Unwrap(raw)
	if err != nil {
		return Token{}, reject(wsse.InvalidSecurityToken, "%v", err)
	}
	if derHook != nil {
		derHook(false, tok.APReq)
	}
	if err := safely(func() error { return decodeAPReqDER(tok.APReq, ap) }); err != nil {
		return Token{}, reject(wsse.InvalidSecurityToken, "AP-REQ does not decode: %v", err)
	}
	if ap.PVNO != 5 || ap.Ticket.TktVNO != 5 {
		return Token{}, reject(wsse.InvalidSecurityToken, "AP-REQ or ticket of a protocol version other than 5")
	}
	if len(ap.Ticket.SName.NameString) == 0 {
		return Token{}, reject(wsse.InvalidSecurityToken, "ticket without a service name")
	}
	return tok, nil
}

// ticket checks the ticket's service principal (step 2), finds its key
// (step 3), and decrypts it or takes it from the ticket cache, checking its
// times, flags and client realm (step 4). spn is the ticket's service
// principal, name@REALM.
func (m *Module) ticket(ap *messages.APReq, now time.Time) (info *ticketInfo, spn string, err error) {
	tkt := &ap.Ticket
	sname := principalString(tkt.SName)
	spn = sname + "@" + realmString(tkt.Realm)
	if !m.spns[spn] {
		return nil, spn, reject(wsse.FailedAuthentication, "wrong SPN: the ticket is for %s, this service is %s", spn, m.spnList)
	}
	if types.IsFlagSet(&ap.APOptions, flags.APOptionUseSessionKey) {
		return nil, spn, reject(wsse.InvalidSecurityToken, "user-to-user AP-REQ (use-session-key) for %s is not supported", spn)
	}
	etype, kvno := tkt.EncPart.EType, tkt.EncPart.KVNO
	if _, err := crypto.GetEtype(etype); err != nil {
		return nil, spn, reject(wsse.InvalidSecurityToken, "unsupported enctype: the ticket for %s is encrypted with %s", spn, keytabs.ETypeName(etype))
	}
	if !m.enctypes[etype] {
		return nil, spn, enctypeRefused("ticket", spn, etype)
	}
	key, kv, err := m.keys.Key(sname, tkt.Realm, kvno, etype)
	if err != nil {
		switch {
		case errors.Is(err, keytabs.ErrNoKVNO):
			return nil, spn, reject(wsse.FailedAuthentication, "unknown kvno: %v", err)
		case errors.Is(err, keytabs.ErrNoEType):
			return nil, spn, reject(wsse.FailedAuthentication, "no key for the enctype: %v", err)
		}
		return nil, spn, reject(wsse.FailedAuthentication, "no key: %v", err)
	}
	gen := m.keys.Generation()
	ck := ticketKey(spn, etype, kv, tkt.EncPart.Cipher)
	if info = m.tickets.get(ck, gen, now); info == nil {
		if info, err = m.decryptTicket(tkt, key, spn, kv); err != nil {
			return nil, spn, err
		}
		m.tickets.put(ck, info, gen, info.enc.EndTime.Add(m.skew), now)
	}
	return info, spn, m.checkTicket(&info.enc, spn, now)
}

// checkTicket checks a decrypted ticket's times, flags, client realm and
// transited path.
func (m *Module) checkTicket(enc *messages.EncTicketPart, spn string, now time.Time) error {
	start := enc.StartTime
	if start.IsZero() {
		start = enc.AuthTime
	}
	if start.Sub(now) > m.skew {
		return reject(wsse.FailedAuthentication, "ticket for %s not yet valid: it starts at %s", spn, start.UTC().Format(time.RFC3339))
	}
	if now.Sub(enc.EndTime) > m.skew {
		return reject(wsse.FailedAuthentication, "expired ticket: the ticket of %s@%s for %s ended at %s", principalString(enc.CName), enc.CRealm, spn, enc.EndTime.UTC().Format(time.RFC3339))
	}
	if types.IsFlagSet(&enc.Flags, flags.Invalid) {
		return reject(wsse.FailedAuthentication, "ticket for %s has the invalid flag set", spn)
	}
	if !m.realms[enc.CRealm] {
		client := principalString(enc.CName)
		return reject(wsse.FailedAuthentication, "client %s@%s: realm %s is not accepted", client, enc.CRealm, enc.CRealm)
	}
	return m.checkTransited(enc, spn)
}

// authenticator decrypts the authenticator with the ticket's session key
// and checks that it names the ticket's client and is within the clock
// skew (step 5). ct is its time.
func (m *Module) authenticator(ap *messages.APReq, enc *messages.EncTicketPart, keys *sessionKeys, now time.Time) (auth types.Authenticator, ct time.Time, err error) {
	client := principalString(enc.CName)
	if _, err := crypto.GetEtype(enc.Key.KeyType); err != nil {
		return auth, ct, reject(wsse.InvalidSecurityToken, "unsupported enctype: the session key is %s", keytabs.ETypeName(enc.Key.KeyType))
	}
	if !m.enctypes[enc.Key.KeyType] {
		return auth, ct, enctypeRefused("session key of the ticket", client+"@"+enc.CRealm, enc.Key.KeyType)
	}
	var plain []byte
	if keys != nil && ap.EncryptedAuthenticator.EType == keys.keyType {
		plain, err = keys.decryptAuthenticator(ap.EncryptedAuthenticator.Cipher)
	} else {
		plain, err = crypto.DecryptEncPart(ap.EncryptedAuthenticator, enc.Key, keyusage.AP_REQ_AUTHENTICATOR)
	}
	if err != nil {
		return auth, ct, reject(wsse.FailedAuthentication, "client %s@%s: the authenticator does not decrypt with the ticket's session key", client, enc.CRealm)
	}
	if derHook != nil {
		derHook(true, plain)
	}
	if err := safely(func() error { return decodeAuthenticatorDER(plain, &auth) }); err != nil {
		return auth, ct, reject(wsse.InvalidSecurityToken, "client %s@%s: the authenticator does not decode: %v", client, enc.CRealm, err)
	}
	if auth.CRealm != enc.CRealm || !auth.CName.Equal(enc.CName) {
		return auth, ct, reject(wsse.FailedAuthentication, "the authenticator names %s@%s, the ticket is for client %s@%s", principalString(auth.CName), auth.CRealm, client, enc.CRealm)
	}
	ct = auth.CTime.Add(time.Duration(auth.Cusec) * time.Microsecond)
	if d := now.Sub(ct); d > m.skew || -d > m.skew {
		return auth, ct, reject(wsse.FailedAuthentication, "client %s@%s: clock skew: the authenticator's time %s is %s from ours, more than %s", client, enc.CRealm, ct.UTC().Format(time.RFC3339), d.Abs().Round(time.Second), m.skew)
	}
	return auth, ct, nil
}

// recordAuthenticator records the authenticator in the replay cache under a
// hash of its ciphertext, for as long as it could be accepted (step 6).
func (m *Module) recordAuthenticator(ctx context.Context, ap *messages.APReq, enc *messages.EncTicketPart, spn string, ct time.Time, from netip.Addr) error {
	client := principalString(enc.CName)
	h := sha256.Sum256(ap.EncryptedAuthenticator.Cipher)
	rkey := "krb5-auth:" + base64.RawStdEncoding.EncodeToString(h[:])
	owner := replay.Owner{Principal: client + "@" + enc.CRealm, Address: from}
	if err := replay.AddFor(ctx, m.replay, rkey, ct.Add(m.skew+time.Second), owner); err != nil {
		if errors.Is(err, replay.ErrReplay) {
			return authn.Reject(wsse.InvalidSecurity, "client %s@%s: replayed authenticator for %s", client, enc.CRealm, spn).Wrap(err)
		}
		return fmt.Errorf("kerberos: replay cache: %w", err)
	}
	return nil
}

// localName maps client@realm to the local name: the first principal_map
// rule that matches, else the name with or without its realm
// (strip_realm).
func (m *Module) localName(client, realm string) (string, error) {
	name := client + "@" + realm
	for _, r := range m.rules {
		if sm := r.re.FindStringSubmatchIndex(name); sm != nil {
			local := string(r.re.ExpandString(nil, r.out, name, sm))
			if local == "" {
				return "", reject(wsse.FailedAuthentication, "client %s: principal_map gives an empty name", name)
			}
			return local, nil
		}
	}
	if m.stripRealm {
		return client, nil
	}
	return name, nil
}

func ticketKey(spn string, etype int32, kvno int, cipher []byte) [32]byte {
	h := sha256.New()
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(etype))
	binary.BigEndian.PutUint32(hdr[4:], uint32(kvno))
	h.Write(hdr[:])
	h.Write([]byte(spn))
	h.Write([]byte{0})
	h.Write(cipher)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (m *Module) decryptTicket(tkt *messages.Ticket, key types.EncryptionKey, spn string, kvno int) (*ticketInfo, error) {
	plain, err := crypto.DecryptEncPart(tkt.EncPart, key, keyusage.KDC_REP_TICKET)
	if err != nil {
		return nil, reject(wsse.FailedAuthentication, "the ticket for %s does not decrypt with the keytab's key (kvno %d, %s): the keytab's key is wrong or outdated", spn, kvno, keytabs.ETypeName(key.KeyType))
	}
	info := &ticketInfo{}
	if err := safely(func() error { return info.enc.Unmarshal(plain) }); err != nil {
		return nil, reject(wsse.InvalidSecurityToken, "the ticket for %s does not decode: %v", spn, err)
	}
	info.keys = newSessionKeys(info.enc.Key)
	if m.decodePAC {
		p, err := m.readPAC(&info.enc, key)
		if err != nil {
			return nil, reject(wsse.FailedAuthentication, "client %s@%s: PAC: %v", principalString(info.enc.CName), info.enc.CRealm, err)
		}
		info.pac = p
	}
	return info, nil
}

// readPAC decodes a PAC that carries logon information (Active Directory)
// and checks its server signature with the service key. A PAC without logon
// information (MIT krb5 1.20+ adds one to every ticket) is left alone.
func (m *Module) readPAC(enc *messages.EncTicketPart, key types.EncryptionKey) (*PAC, error) {
	const adIfRelevant, adWin2kPAC = 1, 128
	for _, ad := range enc.AuthorizationData {
		if ad.ADType != adIfRelevant {
			continue
		}
		var inner types.AuthorizationData
		if err := safely(func() error { return inner.Unmarshal(ad.ADData) }); err != nil {
			continue
		}
		for _, e := range inner {
			if e.ADType != adWin2kPAC {
				continue
			}
			var p pac.PACType
			if err := safely(func() error { return p.Unmarshal(e.ADData) }); err != nil {
				m.log.Debug("kerberos: PAC does not decode; ignored", "err", err)
				return nil, nil
			}
			logon := false
			for _, b := range p.Buffers {
				if b.ULType == 1 { // KERB_VALIDATION_INFO
					logon = true
				}
			}
			if !logon {
				return nil, nil
			}
			if err := safely(func() error { return p.ProcessPACInfoBuffers(key, log.New(io.Discard, "", 0)) }); err != nil {
				return nil, err
			}
			if p.KerbValidationInfo == nil {
				return nil, errors.New("no logon information after all")
			}
			v := p.KerbValidationInfo
			out := &PAC{
				GroupSIDs:   v.GetGroupMembershipSIDs(),
				LogonDomain: v.LogonDomainName.Value,
				AccountName: v.EffectiveName.Value,
				LogonServer: v.LogonServer.Value,
				FullName:    v.FullName.Value,
			}
			if v.LogonDomainID.SubAuthorityCount > 0 {
				out.UserSID = fmt.Sprintf("%s-%d", v.LogonDomainID.String(), v.UserID)
				out.PrimaryGroupSID = fmt.Sprintf("%s-%d", v.LogonDomainID.String(), v.PrimaryGroupID)
			}
			return out, nil
		}
	}
	return nil, nil
}
