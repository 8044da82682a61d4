package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

var _ ports.SessionStore = (*SessionStore)(nil)

// SessionStore keeps sessions in the sessions table and the hashes of their
// refresh tokens in refresh_tokens. Deleting a user cascades to both.
type SessionStore struct{ db *DB }

// NewSessionStore returns a store over db, which must be migrated.
func NewSessionStore(db *DB) *SessionStore { return &SessionStore{db: db} }

type sessionRow struct {
	ID         string `gorm:"primaryKey"`
	UserID     string
	CreatedAt  time.Time `gorm:"autoCreateTime:false"`
	LastUsedAt time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	UserAgent  string
	IP         string `gorm:"column:ip"`
	Version    int64
}

func (sessionRow) TableName() string { return "sessions" }

func toSessionRow(s domain.Session) sessionRow {
	return sessionRow{
		ID:         string(s.ID),
		UserID:     string(s.UserID),
		CreatedAt:  dbTime(s.CreatedAt),
		LastUsedAt: dbTime(s.LastUsedAt),
		ExpiresAt:  dbTime(s.ExpiresAt),
		RevokedAt:  dbTimePtr(s.RevokedAt),
		UserAgent:  s.UserAgent,
		IP:         s.IP,
		Version:    s.Version,
	}
}

func (r sessionRow) toDomain() domain.Session {
	return domain.Session{
		ID:         domain.SessionID(r.ID),
		UserID:     domain.UserID(r.UserID),
		CreatedAt:  fromDB(r.CreatedAt),
		LastUsedAt: fromDB(r.LastUsedAt),
		ExpiresAt:  fromDB(r.ExpiresAt),
		RevokedAt:  fromDBPtr(r.RevokedAt),
		UserAgent:  r.UserAgent,
		IP:         r.IP,
		Version:    r.Version,
	}
}

type tokenRow struct {
	Hash      []byte `gorm:"primaryKey"`
	SessionID string
	IssuedAt  time.Time
	ExpiresAt time.Time
	RotatedAt *time.Time
}

func (tokenRow) TableName() string { return "refresh_tokens" }

func toTokenRow(t domain.RefreshToken) tokenRow {
	return tokenRow{
		Hash:      t.Hash[:],
		SessionID: string(t.SessionID),
		IssuedAt:  dbTime(t.IssuedAt),
		ExpiresAt: dbTime(t.ExpiresAt),
		RotatedAt: dbTimePtr(t.RotatedAt),
	}
}

func (r tokenRow) toDomain() (domain.RefreshToken, error) {
	var h domain.TokenHash
	if len(r.Hash) != len(h) {
		return domain.RefreshToken{}, fmt.Errorf("stored token hash has %d bytes, want %d", len(r.Hash), len(h))
	}
	copy(h[:], r.Hash)
	return domain.RefreshToken{
		Hash:      h,
		SessionID: domain.SessionID(r.SessionID),
		IssuedAt:  fromDB(r.IssuedAt),
		ExpiresAt: fromDB(r.ExpiresAt),
		RotatedAt: fromDBPtr(r.RotatedAt),
	}, nil
}

// Create stores s with Version 1 and first as its token, in one
// transaction. first belongs to s whatever its SessionID says.
func (s *SessionStore) Create(ctx context.Context, sess domain.Session, first domain.RefreshToken) error {
	row := toSessionRow(sess)
	row.Version = 1
	tok := toTokenRow(first)
	tok.SessionID = row.ID
	err := s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return tx.Create(&tok).Error
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create session: %w", sessionError(err))
	}
	return nil
}

func (s *SessionStore) ByID(ctx context.Context, id domain.SessionID) (domain.Session, error) {
	if !storableKey(string(id)) {
		return domain.Session{}, fmt.Errorf("sqlstore: session by id: %w", domain.ErrNotFound)
	}
	var row sessionRow
	if err := s.db.gorm.WithContext(ctx).Where("id = ?", string(id)).Take(&row).Error; err != nil {
		return domain.Session{}, fmt.Errorf("sqlstore: session by id: %w", sessionError(err))
	}
	return row.toDomain(), nil
}

// liveAt selects the sessions domain.Session.Live reports live at now.
func liveAt(tx *gorm.DB, now time.Time) *gorm.DB {
	// now goes in at full precision, and in UTC so that SQLite's text
	// comparison is a time comparison (see the SQLite migration).
	return tx.Where("revoked_at IS NULL AND expires_at > ?", now.UTC())
}

func (s *SessionStore) ListLive(ctx context.Context, user domain.UserID, now time.Time) ([]domain.Session, error) {
	if !storableKey(string(user)) {
		return []domain.Session{}, nil // no such user, so no sessions
	}
	var rows []sessionRow
	err := liveAt(s.db.gorm.WithContext(ctx).Where("user_id = ?", string(user)), now).
		Order("created_at DESC, id DESC").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list live sessions: %w", sessionError(err))
	}
	out := make([]domain.Session, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// Revoke needs no transaction: the conditional UPDATE is atomic, so of two
// concurrent revocations one sets revoked_at and the other changes nothing,
// and the read that follows sees the committed result either way.
func (s *SessionStore) Revoke(ctx context.Context, id domain.SessionID, now time.Time) (domain.Session, error) {
	if !storableKey(string(id)) {
		return domain.Session{}, fmt.Errorf("sqlstore: revoke session: %w", domain.ErrNotFound)
	}
	g := s.db.gorm.WithContext(ctx)
	err := g.Model(&sessionRow{}).Where("id = ? AND revoked_at IS NULL", string(id)).
		Updates(map[string]any{"revoked_at": dbTime(now), "version": gorm.Expr("version + 1")}).Error
	if err != nil {
		return domain.Session{}, fmt.Errorf("sqlstore: revoke session: %w", sessionError(err))
	}
	var row sessionRow
	if err := g.Where("id = ?", string(id)).Take(&row).Error; err != nil {
		return domain.Session{}, fmt.Errorf("sqlstore: revoke session: %w", sessionError(err))
	}
	return row.toDomain(), nil
}

// RevokeAllOf locks the user's live sessions before revoking them, so the
// ids it returns are exactly the ones it revoked: a concurrent call waits
// for the lock and then no longer finds them live.
func (s *SessionStore) RevokeAllOf(ctx context.Context, user domain.UserID, keep domain.SessionID, now time.Time) ([]domain.SessionID, error) {
	if !storableKey(string(user)) {
		return []domain.SessionID{}, nil // no such user, so nothing to revoke
	}
	if !storableKey(string(keep)) {
		keep = "" // no session has it, so none is kept
	}
	var ids []string
	err := s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := liveAt(s.db.forUpdate(tx).Model(&sessionRow{}).Where("user_id = ? AND id <> ?", string(user), string(keep)), now)
		if err := q.Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		return tx.Model(&sessionRow{}).Where("id IN ?", ids).
			Updates(map[string]any{"revoked_at": dbTime(now), "version": gorm.Expr("version + 1")}).Error
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: revoke sessions of user: %w", sessionError(err))
	}
	slices.Sort(ids)
	out := make([]domain.SessionID, len(ids))
	for i, id := range ids {
		out[i] = domain.SessionID(id)
	}
	return out, nil
}

// Exchange locks the token row and then its session row (PostgreSQL; on
// SQLite the single connection serialises transactions), so concurrent
// exchanges of one token see each other's rotation. fn must not call the
// store (see UserStore.Update).
func (s *SessionStore) Exchange(ctx context.Context, hash domain.TokenHash, fn ports.ExchangeFunc) (domain.Session, error) {
	var (
		fnErr error
		saved domain.Session
	)
	err := s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var trow tokenRow
		if err := s.db.forUpdate(tx).Where("hash = ?", hash[:]).Take(&trow).Error; err != nil {
			return err
		}
		var srow sessionRow
		if err := s.db.forUpdate(tx).Where("id = ?", trow.SessionID).Take(&srow).Error; err != nil {
			return err
		}
		tok, err := trow.toDomain()
		if err != nil {
			return err
		}
		sess := srow.toDomain()
		var next *domain.RefreshToken
		if next, fnErr = fn(&sess, &tok); fnErr != nil {
			return fnErr
		}
		// fn may not move records: the keys stay what was locked.
		sess.ID, tok.Hash, tok.SessionID = domain.SessionID(srow.ID), hash, domain.SessionID(srow.ID)

		nsrow := toSessionRow(sess)
		res := tx.Model(&sessionRow{}).Where("id = ? AND version = ?", srow.ID, srow.Version).Updates(map[string]any{
			"user_id":      nsrow.UserID,
			"created_at":   nsrow.CreatedAt,
			"last_used_at": nsrow.LastUsedAt,
			"expires_at":   nsrow.ExpiresAt,
			"revoked_at":   nsrow.RevokedAt,
			"user_agent":   nsrow.UserAgent,
			"ip":           nsrow.IP,
			"version":      gorm.Expr("version + 1"),
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("session %s changed under a held lock (%d rows)", srow.ID, res.RowsAffected)
		}
		ntrow := toTokenRow(tok)
		err = tx.Model(&tokenRow{}).Where("hash = ?", hash[:]).Updates(map[string]any{
			"issued_at":  ntrow.IssuedAt,
			"expires_at": ntrow.ExpiresAt,
			"rotated_at": ntrow.RotatedAt,
		}).Error
		if err != nil {
			return err
		}
		if next != nil {
			nrow := toTokenRow(*next)
			nrow.SessionID = srow.ID
			if err := tx.Create(&nrow).Error; err != nil {
				return err
			}
		}
		nsrow.Version = srow.Version + 1
		saved = nsrow.toDomain()
		return nil
	})
	if fnErr != nil {
		return domain.Session{}, fnErr
	}
	if err != nil {
		return domain.Session{}, fmt.Errorf("sqlstore: exchange refresh token: %w", sessionError(err))
	}
	return saved, nil
}

// sessionError translates a missing row; other errors (a duplicate token
// hash, a session of an unknown user) are bugs in the caller and stay
// GORM's, wrapped.
func sessionError(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.ErrNotFound
	}
	return err
}
