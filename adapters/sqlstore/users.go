package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

var _ ports.UserStore = (*UserStore)(nil)

// UserStore keeps users in the users table.
type UserStore struct{ db *DB }

// NewUserStore returns a store over db, which must be migrated.
func NewUserStore(db *DB) *UserStore { return &UserStore{db: db} }

// userRow is a users row. The domain type carries no storage tags; this one
// carries only what GORM cannot guess.
type userRow struct {
	ID           string `gorm:"primaryKey"`
	Name         string
	Email        string
	PasswordHash string
	IsActive     bool
	Role         string
	FirstName    *string
	LastName     *string
	PhoneNumber  *string
	Address      *string
	// The user's times are the app's to set; GORM must not stamp them.
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"autoUpdateTime:false"`
	Version   int64
}

func (userRow) TableName() string { return "users" }

func toUserRow(u domain.User) userRow {
	return userRow{
		ID:           string(u.ID),
		Name:         u.Name,
		Email:        string(u.Email),
		PasswordHash: string(u.PasswordHash),
		IsActive:     u.IsActive,
		Role:         string(u.Role),
		FirstName:    clone(u.Profile.FirstName),
		LastName:     clone(u.Profile.LastName),
		PhoneNumber:  clone(u.Profile.PhoneNumber),
		Address:      clone(u.Profile.Address),
		CreatedAt:    dbTime(u.CreatedAt),
		UpdatedAt:    dbTime(u.UpdatedAt),
		Version:      u.Version,
	}
}

func (r userRow) toDomain() domain.User {
	return domain.User{
		ID:           domain.UserID(r.ID),
		Name:         r.Name,
		Email:        domain.Email(r.Email),
		PasswordHash: domain.PasswordHash(r.PasswordHash),
		IsActive:     r.IsActive,
		Role:         domain.Role(r.Role),
		Profile: domain.Profile{
			FirstName:   r.FirstName,
			LastName:    r.LastName,
			PhoneNumber: r.PhoneNumber,
			Address:     r.Address,
		},
		CreatedAt: fromDB(r.CreatedAt),
		UpdatedAt: fromDB(r.UpdatedAt),
		Version:   r.Version,
	}
}

// assignments are the columns Update writes: all but the id, with version
// bumped by the statement itself.
func (r userRow) assignments() map[string]any {
	return map[string]any{
		"name":          r.Name,
		"email":         r.Email,
		"password_hash": r.PasswordHash,
		"is_active":     r.IsActive,
		"role":          r.Role,
		"first_name":    r.FirstName,
		"last_name":     r.LastName,
		"phone_number":  r.PhoneNumber,
		"address":       r.Address,
		"created_at":    r.CreatedAt,
		"updated_at":    r.UpdatedAt,
		"version":       gorm.Expr("version + 1"),
	}
}

// Create stores u with Version 1. The unique index on lower(email) decides
// races between registrations: the loser gets domain.ErrEmailTaken.
func (s *UserStore) Create(ctx context.Context, u domain.User) error {
	row := toUserRow(u)
	row.Version = 1
	if err := s.db.gorm.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("sqlstore: create user: %w", userError(err))
	}
	return nil
}

// ByEmail finds the user case-insensitively, as the unique index compares.
func (s *UserStore) ByEmail(ctx context.Context, email domain.Email) (domain.User, error) {
	var row userRow
	err := s.db.gorm.WithContext(ctx).Where("lower(email) = lower(?)", string(email)).Take(&row).Error
	if err != nil {
		return domain.User{}, fmt.Errorf("sqlstore: user by email: %w", userError(err))
	}
	return row.toDomain(), nil
}

func (s *UserStore) ByID(ctx context.Context, id domain.UserID) (domain.User, error) {
	if !storableKey(string(id)) {
		return domain.User{}, fmt.Errorf("sqlstore: user by id: %w", domain.ErrNotFound)
	}
	var row userRow
	if err := s.db.gorm.WithContext(ctx).Where("id = ?", string(id)).Take(&row).Error; err != nil {
		return domain.User{}, fmt.Errorf("sqlstore: user by id: %w", userError(err))
	}
	return row.toDomain(), nil
}

// Update locks the row (PostgreSQL) for the whole read-fn-write, so
// concurrent updates of one user run one after the other. fn must not call
// the store: on SQLite it would wait forever for the one connection this
// transaction holds.
func (s *UserStore) Update(ctx context.Context, id domain.UserID, fn func(*domain.User) error) (domain.User, error) {
	if !storableKey(string(id)) {
		return domain.User{}, fmt.Errorf("sqlstore: update user: %w", domain.ErrNotFound)
	}
	var (
		fnErr error
		saved domain.User
	)
	// Transaction commits when the closure returns nil and returns Commit's
	// error, so a failed commit is never reported as a stored update.
	err := s.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var row userRow
		if err := s.db.forUpdate(tx).Where("id = ?", string(id)).Take(&row).Error; err != nil {
			return err
		}
		u := row.toDomain()
		if fnErr = fn(&u); fnErr != nil {
			return fnErr
		}
		u.ID = id // the id is the key; fn may not move the record
		next := toUserRow(u)
		// "AND version" makes a lost update impossible even if the lock were
		// missing; with it held, exactly one row always matches.
		res := tx.Model(&userRow{}).Where("id = ? AND version = ?", row.ID, row.Version).Updates(next.assignments())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("user %s changed under a held lock (%d rows)", id, res.RowsAffected)
		}
		next.Version = row.Version + 1
		saved = next.toDomain()
		return nil
	})
	if fnErr != nil {
		return domain.User{}, fnErr
	}
	if err != nil {
		return domain.User{}, fmt.Errorf("sqlstore: update user: %w", userError(err))
	}
	return saved, nil
}

// Delete removes the user; the database cascades to its sessions and their
// tokens.
func (s *UserStore) Delete(ctx context.Context, id domain.UserID) error {
	if !storableKey(string(id)) {
		return fmt.Errorf("sqlstore: delete user: %w", domain.ErrNotFound)
	}
	res := s.db.gorm.WithContext(ctx).Where("id = ?", string(id)).Delete(&userRow{})
	if res.Error != nil {
		return fmt.Errorf("sqlstore: delete user: %w", userError(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("sqlstore: delete user: %w", domain.ErrNotFound)
	}
	return nil
}

// storableKey reports whether a row could have s as its id. Ids reach the
// stores from URLs (/admin/users/{id}, /users/me/sessions/{id}), and
// PostgreSQL answers a text value holding a NUL byte or invalid UTF-8 with
// an error (SQLSTATE 22021), not with "no such row": without this check
// such a request was a 500 instead of a 404.
func storableKey(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// userError translates what GORM reports (TranslateError is on) into the
// domain's errors. The only unique key a caller can collide with on users is
// the email: ids are UUIDv7, so a duplicate id would be a bug, not a race.
func userError(err error) error {
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return domain.ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return domain.ErrEmailTaken
	}
	return err
}

func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
