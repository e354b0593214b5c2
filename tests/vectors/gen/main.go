// Command gen writes the reference vectors of tests/vectors/nsc: one JWT of each kind the nsc-style
// commands of accountd produce (exports, imports, an activation, activation revocations, weighted
// mappings with tags, tiered and global JetStream limits, a user with every user option), made by the
// official Go library github.com/nats-io/jwt/v2 2.3.0 with github.com/nats-io/nkeys 0.3.0.
//
// Everything is fixed so that a re-run writes the same bytes: the seeds are derived from their names
// (SHA-256 of "accountd test vector <name>", throwaway keys) and every JWT has iat = IAT. jwt.Encode
// always stamps iat with the clock, so encodeAt runs Encode first (the library sorts, types, checks
// the issuer's role and stamps iss and version), then repeats the remaining steps of
// ClaimsData.doEncode with the fixed iat (jti = base32(sha512/256(json(ClaimsData with jti "")))),
// signs with the same header, and checks the result: it decodes with jwt.Decode (signature verified),
// validates without errors, and its payload equals Encode's payload with only iat and jti replaced.
//
// Run it with `make vectors` (GOPATH mode, Debian's golang-github-nats-io-*-dev packages; no module
// proxy). It writes into the directory given by -out (default ../nsc). With -check FILE... it writes
// nothing and instead decodes and validates each JWT file with the library (e.g. ones accountd wrote),
// printing what the library says and exiting 1 when one is refused or has validation errors.
package main

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// IAT is the issue time of every vector (2026-09-21T14:13:20Z).
const IAT = 1790000000

// ActivationExpiry is the activation's exp (2033-05-18T03:33:20Z).
const ActivationExpiry = 2000000000

// Revocation times of the activation revocations: TENANT's equals the activation's iat, so it is revoked.
const (
	RevokeTenantAt = IAT
	RevokeAllAt    = 1780000000
)

type key struct {
	name string
	kp   nkeys.KeyPair
	pub  string
	seed string
}

type vector struct {
	File     string   `json:"file"`
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	Subject  string   `json:"sub"`
	Issuer   string   `json:"iss"`
	SignedBy string   `json:"signed_by"`
	IAT      int64    `json:"iat"`
	Contains []string `json:"contains"`
	JWT      string   `json:"jwt"`
}

var (
	out   = flag.String("out", "../nsc", "directory to write the vectors into")
	check = flag.Bool("check", false, "decode and validate the JWT files given as arguments instead")
)

func main() {
	flag.Parse()
	if *check {
		os.Exit(checkFiles(flag.Args()))
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func newKey(name string, prefix nkeys.PrefixByte) *key {
	raw := sha256.Sum256([]byte("accountd test vector " + name))
	kp, err := nkeys.FromRawSeed(prefix, raw[:])
	must(err)
	pub, err := kp.PublicKey()
	must(err)
	seed, err := kp.Seed()
	must(err)
	return &key{name, kp, pub, string(seed)}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// encodeAt is claim.Encode(kp) with iat fixed at IAT (see the package comment).
func encodeAt(claim jwt.Claims, kp nkeys.KeyPair) (string, error) {
	live, err := claim.Encode(kp)
	if err != nil {
		return "", err
	}
	cd := claim.Claims()
	liveIat, liveJti := cd.IssuedAt, cd.ID
	cd.IssuedAt = IAT
	cd.ID = ""
	j, err := json.Marshal(cd)
	if err != nil {
		return "", err
	}
	h := sha512.New512_256()
	h.Write(j)
	cd.ID = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h.Sum(nil))
	header, err := json.Marshal(&jwt.Header{Type: jwt.TokenTypeJwt, Algorithm: jwt.AlgorithmNkey})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claim)
	if err != nil {
		return "", err
	}
	toSign := b64(header) + "." + b64(payload)
	sig, err := kp.Sign([]byte(toSign))
	if err != nil {
		return "", err
	}
	token := toSign + "." + b64(sig)

	// The checks: Encode's header, Encode's payload but for iat/jti, the library decodes and validates it.
	liveParts := strings.Split(live, ".")
	if liveParts[0] != b64(header) {
		return "", fmt.Errorf("header differs from Encode's")
	}
	livePayload, err := base64.RawURLEncoding.DecodeString(liveParts[1])
	if err != nil {
		return "", err
	}
	swapped := strings.Replace(strings.Replace(string(livePayload),
		fmt.Sprintf(`"jti":%q`, liveJti), fmt.Sprintf(`"jti":%q`, cd.ID), 1),
		fmt.Sprintf(`"iat":%d`, liveIat), fmt.Sprintf(`"iat":%d`, IAT), 1)
	if swapped != string(payload) {
		return "", fmt.Errorf("payload differs from Encode's beyond iat and jti:\n%s\n%s", livePayload, payload)
	}
	decoded, err := jwt.Decode(token)
	if err != nil {
		return "", fmt.Errorf("jwt.Decode refuses the vector: %w", err)
	}
	vr := jwt.CreateValidationResults()
	decoded.Validate(vr)
	if errs := vr.Errors(); len(errs) > 0 {
		return "", fmt.Errorf("the vector does not validate: %v", errs)
	}
	if decoded.Claims().IssuedAt != IAT || decoded.Claims().ID != cd.ID {
		return "", fmt.Errorf("decoded iat/jti differ")
	}
	return token, nil
}

// checkFiles decodes (signature verified) and validates each JWT file; 0 when all pass.
func checkFiles(files []string) int {
	code := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			var claims jwt.Claims
			if claims, err = jwt.Decode(strings.TrimSpace(string(data))); err == nil {
				vr := jwt.CreateValidationResults()
				claims.Validate(vr)
				for _, w := range vr.Warnings() {
					fmt.Printf("%s: warning: %s\n", f, w)
				}
				if errs := vr.Errors(); len(errs) > 0 {
					err = fmt.Errorf("validation errors: %v", errs)
				} else {
					fmt.Printf("%s: ok (%s %s)\n", f, claims.ClaimType(), claims.Claims().Name)
				}
			}
		}
		if err != nil {
			fmt.Printf("%s: %v\n", f, err)
			code = 1
		}
	}
	return code
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func run() error {
	op := newKey("OP", nkeys.PrefixByteOperator)
	svc := newKey("SVC", nkeys.PrefixByteAccount)
	svcSK := newKey("SVC_sk", nkeys.PrefixByteAccount)
	tenant := newKey("TENANT", nkeys.PrefixByteAccount)
	mapAcc := newKey("MAP", nkeys.PrefixByteAccount)
	jst := newKey("JST", nkeys.PrefixByteAccount)
	jsg := newKey("JSG", nkeys.PrefixByteAccount)
	user := newKey("U", nkeys.PrefixByteUser)
	keys := []*key{op, svc, svcSK, tenant, mapAcc, jst, jsg, user}

	if err := os.MkdirAll(filepath.Join(*out, "before"), 0o755); err != nil {
		return err
	}
	var vectors []vector
	write := func(file, kind string, claim jwt.Claims, signer *key, contains ...string) (string, error) {
		token, err := encodeAt(claim, signer.kp)
		if err != nil {
			return "", fmt.Errorf("%s: %w", file, err)
		}
		if err := os.WriteFile(filepath.Join(*out, file), []byte(token), 0o644); err != nil {
			return "", err
		}
		cd := claim.Claims()
		vectors = append(vectors, vector{file, kind, cd.Name, cd.Subject, cd.Issuer, signer.name, cd.IssuedAt,
			contains, token})
		return token, nil
	}

	// --- the home before the commands: what nsc's add operator / add account / add user write ---
	opc := jwt.NewOperatorClaims(op.pub)
	opc.Name = "OP"
	if _, err := write("before/OP.jwt", "operator", opc, op, "jwt.NewOperatorClaims, name OP"); err != nil {
		return err
	}
	for _, a := range []*key{svc, tenant, mapAcc, jst, jsg} {
		ac := jwt.NewAccountClaims(a.pub)
		ac.Name = a.name
		if _, err := write("before/"+a.name+".jwt", "account", ac, op,
			"jwt.NewAccountClaims, name "+a.name); err != nil {
			return err
		}
	}
	uc := jwt.NewUserClaims(user.pub)
	uc.Name = "U"
	if _, err := write("before/U.jwt", "user", uc, tenant, "jwt.NewUserClaims, name U, of TENANT"); err != nil {
		return err
	}

	// --- exports: SVC with a signing key and six exports ---
	exports := func() *jwt.AccountClaims {
		ac := jwt.NewAccountClaims(svc.pub)
		ac.Name = "SVC"
		ac.SigningKeys.Add(svcSK.pub)
		ac.Exports.Add(
			&jwt.Export{Name: "api", Subject: "api.>", Type: jwt.Service, ResponseType: jwt.ResponseTypeStream,
				ResponseThreshold: 2 * time.Second, Advertise: true,
				Info: jwt.Info{Description: "the public API", InfoURL: "https://example.com/api"}},
			&jwt.Export{Name: "admin.>", Subject: "admin.>", Type: jwt.Service, TokenReq: true,
				ResponseType: jwt.ResponseTypeSingleton},
			&jwt.Export{Name: "feed.>", Subject: "feed.>", Type: jwt.Stream},
			&jwt.Export{Name: "lat.headers", Subject: "lat.headers", Type: jwt.Service,
				ResponseType: jwt.ResponseTypeSingleton,
				Latency:      &jwt.ServiceLatency{Sampling: jwt.Headers, Results: "latency.headers"}},
			&jwt.Export{Name: "lat.half", Subject: "lat.half", Type: jwt.Service,
				ResponseType: jwt.ResponseTypeSingleton,
				Latency:      &jwt.ServiceLatency{Sampling: 50, Results: "latency.half"}},
			&jwt.Export{Name: "events.*.changes", Subject: "events.*.changes", Type: jwt.Stream,
				AccountTokenPosition: 2},
		)
		return ac
	}
	if _, err := write("exports.jwt", "account", exports(), op,
		"signing_keys [SVC_sk]",
		"public service api.> (name api): response_type Stream, response_threshold 2s, advertise, description, info_url",
		"private service admin.> (token_req), response_type Singleton",
		"public stream feed.>",
		"service lat.headers: service_latency sampling headers, results latency.headers",
		"service lat.half: service_latency sampling 50, results latency.half",
		"stream events.*.changes: account_token_position 2",
	); err != nil {
		return err
	}

	// --- an activation for TENANT of admin.>, signed by SVC's signing key ---
	act := jwt.NewActivationClaims(tenant.pub)
	act.Name = "admin.>"
	act.ImportSubject = "admin.>"
	act.ImportType = jwt.Service
	act.IssuerAccount = svc.pub
	act.Expires = ActivationExpiry
	activation, err := write("activation.jwt", "activation", act, svcSK,
		"service admin.> for TENANT, exp 2000000000, signed by SVC_sk with issuer_account SVC")
	if err != nil {
		return err
	}

	// --- imports: TENANT imports the public service, the stream and the private service ---
	ic := jwt.NewAccountClaims(tenant.pub)
	ic.Name = "TENANT"
	ic.Imports.Add(
		&jwt.Import{Name: "api", Subject: "api.>", Account: svc.pub, LocalSubject: "svc.api.>",
			Type: jwt.Service, Share: true},
		&jwt.Import{Name: "feed.>", Subject: "feed.>", Account: svc.pub, Type: jwt.Stream},
		&jwt.Import{Name: "admin.>", Subject: "admin.>", Account: svc.pub, Token: activation,
			LocalSubject: "admin.>", Type: jwt.Service},
	)
	if _, err := write("imports.jwt", "account", ic, op,
		"public service import api.> from SVC (name api), local_subject svc.api.>, share",
		"public stream import feed.> from SVC",
		"private service import admin.> from SVC with activation.jwt as token, local_subject admin.>",
	); err != nil {
		return err
	}

	// --- activation revocations: SVC's exports, admin.> revoking TENANT and everyone ---
	rc := exports()
	for _, e := range rc.Exports {
		if e.Subject == "admin.>" {
			e.RevokeAt(tenant.pub, time.Unix(RevokeTenantAt, 0))
			e.RevokeAt("*", time.Unix(RevokeAllAt, 0))
		}
	}
	if _, err := write("revocations.jwt", "account", rc, op,
		"exports.jwt with revocations on admin.>: TENANT at 1790000000 (= the activation's iat: revoked), * at 1780000000",
	); err != nil {
		return err
	}

	// --- mappings and tags ---
	mc := jwt.NewAccountClaims(mapAcc.pub)
	mc.Name = "MAP"
	mc.AddMapping("orders.new", jwt.WeightedMapping{Subject: "orders.v1", Weight: 60},
		jwt.WeightedMapping{Subject: "orders.v2", Weight: 40})
	// nsc's edit account --tag: TagList.Add (lower-cases), then sort.Strings (cmd/genericclaimparams.go).
	mc.Tags.Add("Team:Orders", "prod")
	sort.Strings(mc.Tags)
	if _, err := write("mappings.jwt", "account", mc, op,
		"mapping orders.new -> orders.v1 60%, orders.v2 40%",
		"tags given as Team:Orders then prod: lower-cased by TagList.Add and sorted as nsc sorts them: prod, team:orders",
	); err != nil {
		return err
	}

	// --- tiered JetStream limits ---
	tc := jwt.NewAccountClaims(jst.pub)
	tc.Name = "JST"
	// Every field is given (as the commands of the Python test give them): nsc's edit account sets all
	// eight from its flags, whose defaults are not 0 for all of them.
	tc.Limits.JetStreamTieredLimits["R1"] = jwt.JetStreamLimits{
		MemoryStorage: 1 << 20, DiskStorage: 1 << 30, Streams: 10, Consumer: 100, MaxAckPending: 1000,
		MemoryMaxStreamBytes: 256 << 10, DiskMaxStreamBytes: 64 << 20}
	tc.Limits.JetStreamTieredLimits["R3"] = jwt.JetStreamLimits{
		DiskStorage: 512 << 20, Streams: 5, Consumer: 50, MaxAckPending: -1, MemoryMaxStreamBytes: -1,
		DiskMaxStreamBytes: 128 << 20, MaxBytesRequired: true}
	if _, err := write("js_tiered.jwt", "account", tc, op,
		"tiered_limits R1: mem_storage 1M, disk_storage 1G, streams 10, consumer 100, max_ack_pending 1000, "+
			"mem_max_stream_bytes 256K, disk_max_stream_bytes 64M",
		"tiered_limits R3: mem_storage 0, disk_storage 512M, streams 5, consumer 50, max_ack_pending -1, "+
			"mem_max_stream_bytes -1, disk_max_stream_bytes 128M, max_bytes_required",
	); err != nil {
		return err
	}

	// --- global JetStream limits ---
	gc := jwt.NewAccountClaims(jsg.pub)
	gc.Name = "JSG"
	gc.Limits.JetStreamLimits = jwt.JetStreamLimits{
		MemoryStorage: 256 << 20, DiskStorage: -1, Streams: 20, Consumer: -1, MaxAckPending: 5000,
		MemoryMaxStreamBytes: 64 << 20, DiskMaxStreamBytes: 1 << 30, MaxBytesRequired: true}
	if _, err := write("js_global.jwt", "account", gc, op,
		"global JetStream limits: mem_storage 256M, disk_storage -1, streams 20, consumer -1, "+
			"max_ack_pending 5000, mem_max_stream_bytes 64M, disk_max_stream_bytes 1G, max_bytes_required",
	); err != nil {
		return err
	}

	// --- a user with every user option ---
	u := jwt.NewUserClaims(user.pub)
	u.Name = "U"
	u.BearerToken = true
	u.AllowedConnectionTypes.Add(jwt.ConnectionTypeStandard, jwt.ConnectionTypeWebsocket)
	// nsc's edit user --source-network: CIDRList.Add, then sort.Strings (cmd/edituser.go).
	u.Src.Add("192.168.1.0/24", "10.0.0.0/8")
	sort.Strings(u.Src)
	u.Times = append(u.Times, jwt.TimeRange{Start: "08:00:00", End: "17:00:00"},
		jwt.TimeRange{Start: "20:00:00", End: "22:30:00"})
	u.Locale = "Europe/Berlin"
	u.Resp = &jwt.ResponsePermission{MaxMsgs: 5, Expires: 2 * time.Second}
	u.NatsLimits = jwt.NatsLimits{Subs: 100, Data: 1 << 20, Payload: 64 << 10}
	if _, err := write("user.jwt", "user", u, tenant,
		"user U of TENANT: bearer_token, allowed_connection_types STANDARD WEBSOCKET",
		"src given as 192.168.1.0/24 then 10.0.0.0/8, sorted as nsc sorts them: 10.0.0.0/8, 192.168.1.0/24",
		"times 08:00:00-17:00:00 20:00:00-22:30:00, times_location Europe/Berlin",
		"resp max 5 ttl 2s, subs 100, data 1M, payload 64K",
	); err != nil {
		return err
	}

	// --- seeds and the summary ---
	summaryKeys := map[string]map[string]string{}
	for _, k := range keys {
		if err := os.WriteFile(filepath.Join(*out, k.name+".nk"), []byte(k.seed), 0o600); err != nil {
			return err
		}
		summaryKeys[k.name] = map[string]string{"public_key": k.pub, "seed": k.seed, "file": k.name + ".nk"}
	}
	sort.Slice(vectors, func(i, j int) bool { return vectors[i].File < vectors[j].File })
	summary := map[string]interface{}{
		"library": "github.com/nats-io/jwt/v2 2.3.0 + github.com/nats-io/nkeys 0.3.0 " +
			"(Debian golang-github-nats-io-*-dev), Go " + strings.TrimPrefix(runtime.Version(), "go"),
		"made_by":           "tests/vectors/gen/main.go (make vectors)",
		"iat":               IAT,
		"iat_note":          "jwt.Encode stamps iat with the clock; encodeAt re-does its last steps with this iat",
		"seeds":             "raw seed = SHA-256(\"accountd test vector \" + key name); throwaway keys",
		"keys":              summaryKeys,
		"activation_expiry": ActivationExpiry,
		"revocations":       map[string]int64{"TENANT": RevokeTenantAt, "*": RevokeAllAt},
		"vectors":           vectors,
	}
	data, err := json.MarshalIndent(summary, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "summary.json"), append(data, '\n'), 0o644)
}
