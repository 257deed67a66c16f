package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	jose "github.com/go-jose/go-jose/v4"
)

// signingKeyFile is the local issuer's private key under its directory.
const signingKeyFile = "signing-key.pem"

// signingKey is a private key with its JWS algorithm and key id.
type signingKey struct {
	signer crypto.Signer
	alg    string // ES256 or RS256
	kid    string // RFC 7638 thumbprint
}

// loadOrCreateKey reads dir/signing-key.pem, creating it with a new key of
// algorithm alg (ES256 or RS256) when it does not exist. Concurrent first
// starts agree on one key: the file appears atomically and the loser reads
// the winner's key. An existing key keeps its own algorithm.
func loadOrCreateKey(dir, alg string) (*signingKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	path := filepath.Join(dir, signingKeyFile)
	k, err := readKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := createKey(dir, path, alg); err != nil {
		return nil, err
	}
	return readKey(path)
}

func createKey(dir, path, alg string) error {
	var signer crypto.Signer
	var err error
	switch alg {
	case "", "ES256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		signer, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		return fmt.Errorf("signing algorithm %q: want ES256 or RS256", alg)
	}
	if err != nil {
		return fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return fmt.Errorf("encode signing key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".signing-key-*.pem")
	if err != nil {
		return fmt.Errorf("write signing key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write signing key: %w", err)
	}
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return fmt.Errorf("write signing key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write signing key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write signing key: %w", err)
	}
	// Link fails when another process created the key first; theirs wins.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("install signing key: %w", err)
	}
	return nil
}

func readKey(path string) (*signingKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s: no PKCS#8 PEM block", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	k := &signingKey{}
	switch key := parsed.(type) {
	case *ecdsa.PrivateKey:
		if key.Curve != elliptic.P256() {
			return nil, fmt.Errorf("signing key %s: EC key must be P-256", path)
		}
		k.signer, k.alg = key, "ES256"
	case *rsa.PrivateKey:
		if key.N.BitLen() < 2048 {
			return nil, fmt.Errorf("signing key %s: RSA key shorter than 2048 bits", path)
		}
		k.signer, k.alg = key, "RS256"
	default:
		return nil, fmt.Errorf("signing key %s: unsupported key type %T", path, parsed)
	}
	k.kid, err = keyID(k.signer.Public())
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return k, nil
}

// keyID is the RFC 7638 SHA-256 thumbprint of a public key, base64url.
func keyID(pub crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// publicJWK is the public half of k as a JWK.
func (k *signingKey) publicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.signer.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"}
}
