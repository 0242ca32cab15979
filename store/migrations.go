package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// migration brings the schema from version-1 to version. Migrations run in
// order, each in its own transaction together with the version bump, so a
// crash leaves the file at a version it really has.
type migration struct {
	version uint64
	name    string
	apply   func(tx *bolt.Tx) error
}

var migrations = []migration{
	{1, "create buckets", func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bMailboxes, bConvs, bThreads, bMsgIDs, bToSlack, bToMail, bEvents} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	}},
}

// SchemaVersion is the version a fully migrated file has.
func SchemaVersion() uint64 { return migrations[len(migrations)-1].version }

func (s *Store) migrate() error {
	for _, m := range migrations {
		err := s.db.Update(func(tx *bolt.Tx) error {
			meta, err := tx.CreateBucketIfNotExists(bMeta)
			if err != nil {
				return err
			}
			have := getU64(meta.Get(kSchema))
			if have > SchemaVersion() {
				return fmt.Errorf("database schema %d is newer than this inboxbot (%d): refusing to touch it", have, SchemaVersion())
			}
			if have >= m.version {
				return nil
			}
			if err := m.apply(tx); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
			return meta.Put(kSchema, u64(m.version))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Schema returns the version recorded in the file.
func (s *Store) Schema() (uint64, error) {
	var v uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		v = getU64(tx.Bucket(bMeta).Get(kSchema))
		return nil
	})
	return v, err
}
