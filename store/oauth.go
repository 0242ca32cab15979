package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Providers rotate refresh tokens (Microsoft issues a new one at every
// refresh and lets the old one lapse): the latest is kept here, so that a
// restart months after the configured token was issued still logs in. It
// is filed under a hash of the configuration it came from, so that a
// newly configured token (after a revocation, say) is used as given.

// OAuthKey is the key of an account's refresh token: the configured token
// and what identifies the app and the endpoint.
func OAuthKey(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])
}

// OAuthRefresh returns the latest refresh token kept under key ("" : none).
func (s *Store) OAuthRefresh(key string) (token string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		token = string(tx.Bucket(bOAuth).Get([]byte(key)))
		return nil
	})
	return token, err
}

// SetOAuthRefresh keeps token as the latest refresh token under key.
func (s *Store) SetOAuthRefresh(key, token string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bOAuth).Put([]byte(key), []byte(token))
	})
}
