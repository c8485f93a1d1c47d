package objstore

import (
	"context"
	"fmt"
	"syscall"
)

// DeleteFile removes the object of the file p with one DELETE, with no
// HEAD to tell a file from a directory first (ufs.FileDeleter): the caller
// knows it is a file. Deleting a key that is not there succeeds, as S3's
// DELETE does.
func (s *Store) DeleteFile(ctx context.Context, p string) error {
	const op = "delete"
	c, err := s.begin(ctx, op, p)
	if err != nil {
		return err
	}
	if c == "" {
		return s.pathErr(op, "", fmt.Errorf("the store root is not a file: %w", syscall.EISDIR))
	}
	return s.deleteKey(ctx, op, s.key(c))
}
