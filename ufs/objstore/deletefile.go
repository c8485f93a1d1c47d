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

// BatchDeletes implements ufs.BatchFileDeleter: whether the client deletes
// many objects in one request.
func (s *Store) BatchDeletes() bool {
	_, ok := s.client.(BatchDeleter)
	return ok
}

// DeleteFiles removes the objects of the files at paths
// (ufs.BatchFileDeleter), Config.ListPage of them a request where the
// client deletes in batches, one by one (Config.Parallel at once) where it
// does not. Missing keys are not an error.
func (s *Store) DeleteFiles(ctx context.Context, paths []string) error {
	const op = "delete"
	keys := make([]string, 0, len(paths))
	for _, p := range paths {
		c, err := s.begin(ctx, op, p)
		if err != nil {
			return err
		}
		if c == "" {
			return s.pathErr(op, "", fmt.Errorf("the store root is not a file: %w", syscall.EISDIR))
		}
		keys = append(keys, s.key(c))
	}
	for len(keys) > 0 {
		n := min(len(keys), s.cfg.ListPage)
		if err := s.deleteKeys(ctx, op, keys[:n]); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}
