package meta

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
)

// DropOrphan removes a file that a writer's commit put into an under-store
// after the file was deleted from the namespace (an unlink on another node
// racing the writer's close): the next lookup would otherwise load it back.
// It removes ufsPath of mount mountID only while no entry of the namespace
// claims it and the under-store still holds the very content the writer
// put there (fingerprint), so a newer file at that path is never touched.
func (m *Master) DropOrphan(ctx context.Context, mountID uint64, ufsPath, fingerprint string) error {
	const op = "dropOrphan"
	if err := m.checkLeader(); err != nil {
		return err
	}
	mi, ok := m.MountByID(mountID)
	if !ok {
		return fmt.Errorf("%s: mount %d: %w", op, mountID, syscall.ENOENT)
	}
	rel := strings.TrimPrefix(ufsPath, "/")
	p := joinPath(mi.AlluxioPath, rel)
	ctx, unlock, err := m.locks.lock(ctx, p)
	if err != nil {
		return err
	}
	defer unlock()
	var claimed bool
	err = m.fsm.view(func(t *txn) error {
		claimed = t.walk(p).node != nil
		return nil
	})
	if err != nil || claimed {
		return err
	}
	u, err := m.ufsFor(mi)
	if err != nil {
		return err
	}
	fi, err := u.Stat(ctx, rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.IsDir() || fi.Fingerprint() != fingerprint:
		return nil // not what the writer left there
	}
	m.log.Info("removing a file written back after its deletion", "path", p)
	if err := u.Delete(ctx, rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", op, p, scrubError(err, mi.UfsURI, mi.Options))
	}
	return nil
}
