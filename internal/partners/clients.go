// Package partners manages partner API clients — apps acting for some merchants with a
// client id, a secret and scopes — and exchanges their credentials for access tokens at
// the OAuth2 client-credentials endpoint (POST /oauth/token).
package partners

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/apiclient"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/webhook"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/usertext"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Limits of a client.
const (
	MaxNameLen   = 100
	MaxMerchants = 20
)

// Credential formats: a prefix that makes a leaked value recognisable (secret scanners,
// logs) followed by random letters and digits. 40 of 62 symbols are 238 bits.
const (
	ClientIDPrefix = "xdc_"
	SecretPrefix   = "xds_"
	clientIDLen    = 24
	secretLen      = 40
)

// CreateInput describes a new client.
type CreateInput struct {
	Name        string
	MerchantIDs []int
	Scopes      []string
}

// Credentials are a client and its secret in clear, which exists only in this value: it
// is shown once, at creation or rotation, and stored hashed.
type Credentials struct {
	Client *ent.ApiClient
	Secret string
}

// Create makes a client for the given merchants, for the owner of every one of them or an
// admin. Staff of a merchant get FORBIDDEN; anyone else NOT_FOUND for a merchant they do
// not belong to.
func Create(ctx context.Context, db *ent.Client, in CreateInput) (*Credentials, error) {
	v := viewer.FromContext(ctx)
	if !v.Authenticated() && !v.System {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to do this")
	}
	name, err := usertext.Line("name", in.Name, 1, MaxNameLen)
	if err != nil {
		return nil, err
	}
	mids := slices.Clone(in.MerchantIDs)
	slices.Sort(mids)
	mids = slices.Compact(mids)
	if len(mids) < 1 || len(mids) > MaxMerchants {
		return nil, apperror.BadInput("merchantIDs", "name 1 to %d merchants", MaxMerchants)
	}
	for _, m := range mids {
		if err := mayManage(v, m); err != nil {
			return nil, err
		}
	}
	scopes, err := checkScopes("scopes", in.Scopes)
	if err != nil {
		return nil, err
	}
	found, err := db.Merchant.Query().Where(merchant.IDIn(mids...)).IDs(allow(ctx))
	if err != nil {
		return nil, err
	}
	for _, m := range mids {
		if !slices.Contains(found, m) {
			return nil, apperror.BadInput("merchantIDs", "merchant %d does not exist", m)
		}
	}
	clientID, err := random(clientIDLen)
	if err != nil {
		return nil, err
	}
	secret, err := random(secretLen)
	if err != nil {
		return nil, err
	}
	secret = SecretPrefix + secret
	create := db.ApiClient.Create().
		SetClientID(ClientIDPrefix + clientID).
		SetName(name).
		SetSecretHash(HashSecret(secret)).
		SetMerchantIds(mids).
		SetScopes(scopes)
	if v.UserID != 0 {
		create.SetCreatedByID(v.UserID)
	}
	c, err := create.Save(allow(ctx))
	if err != nil {
		return nil, err
	}
	err = audit.Record(ctx, db, audit.Entry{Action: "api_client.create", TargetType: "ApiClient", TargetID: c.ID,
		Details: map[string]any{"clientId": c.ClientID, "name": name, "merchantIds": mids, "scopes": scopes}})
	if err != nil {
		return nil, err
	}
	return &Credentials{Client: c, Secret: secret}, nil
}

// Revoke ends a client for good: its secret and every token it holds stop working at once
// (auth re-reads the client on each request). The owner of any of its merchants may revoke
// it, as may an admin; revoking twice changes nothing.
func Revoke(ctx context.Context, db *ent.Client, id int) (*ent.ApiClient, error) {
	c, err := load(ctx, db, id, false)
	if err != nil || c.RevokedAt != nil {
		return c, err
	}
	c, err = c.Update().SetRevokedAt(now()).Save(allow(ctx))
	if err != nil {
		return nil, err
	}
	// Its webhooks stop too (the relay also skips them; this shows owners why).
	if err := db.Webhook.Update().Where(webhook.APIClientID(c.ID), webhook.StatusEQ(webhook.StatusACTIVE)).
		SetStatus(webhook.StatusDISABLED).SetDisabledReason("its API client was revoked").Exec(allow(ctx)); err != nil {
		return nil, err
	}
	return c, audit.Record(ctx, db, audit.Entry{Action: "api_client.revoke", TargetType: "ApiClient", TargetID: c.ID,
		Details: map[string]any{"clientId": c.ClientID}})
}

// RotateSecret gives a client a new secret. The old secret stops working at once, and so
// do tokens issued before the rotation (auth compares their issue time with
// secret_rotated_at): a rotation is how a leaked secret is cut off. It needs the owner of
// every merchant of the client, or an admin, as creating it did.
func RotateSecret(ctx context.Context, db *ent.Client, id int) (*Credentials, error) {
	c, err := load(ctx, db, id, true)
	if err != nil {
		return nil, err
	}
	if c.RevokedAt != nil {
		return nil, apperror.WrongState("REVOKED", "a revoked client cannot get a new secret")
	}
	secret, err := random(secretLen)
	if err != nil {
		return nil, err
	}
	secret = SecretPrefix + secret
	c, err = c.Update().SetSecretHash(HashSecret(secret)).SetSecretRotatedAt(now()).Save(allow(ctx))
	if err != nil {
		return nil, err
	}
	err = audit.Record(ctx, db, audit.Entry{Action: "api_client.rotate_secret", TargetType: "ApiClient", TargetID: c.ID,
		Details: map[string]any{"clientId": c.ClientID}})
	if err != nil {
		return nil, err
	}
	return &Credentials{Client: c, Secret: secret}, nil
}

// List returns the clients acting for a merchant, newest first, revoked ones included: to
// its owner or an admin.
func List(ctx context.Context, db *ent.Client, merchantID int) ([]*ent.ApiClient, error) {
	if err := mayManage(viewer.FromContext(ctx), merchantID); err != nil {
		return nil, err
	}
	return db.ApiClient.Query().
		Where(func(s *sql.Selector) { s.Where(sqljson.ValueContains(apiclient.FieldMerchantIds, merchantID)) }).
		Order(apiclient.ByCreatedAt(sql.OrderDesc()), apiclient.ByID(sql.OrderDesc())).
		All(allow(ctx))
}

// HashSecret returns what is stored of a secret: its SHA-256, hex-encoded. A secret is 238
// random bits, so no dictionary holds it and brute force is out of reach; a slow password
// hash such as argon2id (made for low-entropy, human-chosen passwords) would add nothing
// but ~20 ms and 19 MiB to every token request, handing anyone who can reach the endpoint
// a cheap way to load the server.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// VerifySecret reports whether secret matches a stored hash, in time that does not depend
// on where they differ.
func VerifySecret(hash, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(hash), []byte(HashSecret(secret))) == 1
}

// mayManage checks that v may manage the clients of merchant id: its owner or an admin.
func mayManage(v *viewer.Viewer, id int) error {
	switch {
	case v.System || v.IsAdmin() || v.IsMerchantOwner(id):
		return nil
	case v.IsMerchantMember(id):
		return apperror.New(apperror.Forbidden, "only the merchant's owner manages its API clients")
	}
	return apperror.NotFoundf("merchant %d not found", id)
}

// load reads a client the caller may manage: an admin any; a merchant owner one that acts
// for their merchant, and with every=true only one acting for no other merchant. Staff of
// one of its merchants get FORBIDDEN; anyone else NOT_FOUND, so nothing tells them it
// exists.
func load(ctx context.Context, db *ent.Client, id int, every bool) (*ent.ApiClient, error) {
	v := viewer.FromContext(ctx)
	c, err := db.ApiClient.Get(allow(ctx), id)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("API client %d not found", id)
	}
	if err != nil {
		return nil, err
	}
	if v.System || v.IsAdmin() {
		return c, nil
	}
	if !slices.ContainsFunc(c.MerchantIds, v.IsMerchantMember) {
		return nil, apperror.NotFoundf("API client %d not found", id)
	}
	owns := slices.ContainsFunc(c.MerchantIds, v.IsMerchantOwner)
	if every {
		owns = !slices.ContainsFunc(c.MerchantIds, func(m int) bool { return !v.IsMerchantOwner(m) })
	}
	if !owns {
		return nil, apperror.New(apperror.Forbidden, "only the owner of each of the client's merchants, or an admin, may do this")
	}
	return c, nil
}

// allow lets the service read and write clients once it has checked the caller itself.
func allow(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}

func now() time.Time { return time.Now().UTC() }

// alphabet is what client ids and secrets are made of: safe in URLs, form encoding, HTTP
// Basic credentials and shells, and selected whole by a double click.
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// random returns n symbols of alphabet from crypto/rand, uniformly: bytes at or above the
// largest multiple of len(alphabet) are dropped rather than folded in.
func random(n int) (string, error) {
	const limit = 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}
