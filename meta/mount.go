package meta

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
)

// ensureRootMount creates the root mount from the configuration on first
// start, and updates it when the configured under-store changed.
func (m *Master) ensureRootMount(ctx context.Context) error {
	m.rootMu.Lock()
	defer m.rootMu.Unlock()
	var (
		cur    MountInfo
		exists bool
	)
	if err := m.fsm.view(func(t *txn) error { cur, exists = t.mountTable().mountAt("/"); return nil }); err != nil {
		return err
	}
	if exists && cur.UfsURI == m.cfg.RootUFS && maps.Equal(cur.Options, m.cfg.RootOptions) && cur.ReadOnly == m.cfg.RootReadOnly {
		return nil
	}
	u, root, err := m.openAndStat(ctx, "/", m.cfg.RootUFS, m.cfg.RootOptions)
	if err != nil {
		return err
	}
	mi, err := result[MountInfo](m.propose(ctx, &mountCmd{
		Path: "/", URI: m.cfg.RootUFS, Options: m.cfg.RootOptions, ReadOnly: m.cfg.RootReadOnly,
		Root: root, Now: time.Now().UnixNano(),
	}))
	if err != nil {
		u.Close()
		return err
	}
	m.cacheUFS(mi, u)
	if exists && cur.UfsURI != mi.UfsURI {
		m.sync.reset()
		m.log.Warn("root mount changed", "from", ufs.Redact(cur.UfsURI), "to", ufs.Redact(mi.UfsURI))
	}
	return nil
}

// checkOverlap refuses a mount of uri at p when another mount's
// under-store directory holds uri's or lies in it, as Alluxio does: two
// namespace paths over the same files would each cache and change them
// unseen by the other, and a recursive delete through one would remove
// files the other lists. Buckets of one name behind different endpoints
// (the options that name one) are different stores. It is checked when a
// mount is asked for, not when the journal replays one.
func checkOverlap(mt mountTable, p, uri string, opts map[string]string) error {
	nu, err := ufs.ParseURI(uri)
	if err != nil {
		return nil
	}
	for _, mi := range mt {
		ou, err := ufs.ParseURI(mi.UfsURI)
		if err != nil || storeFamily(nu.Scheme) != storeFamily(ou.Scheme) || !strings.EqualFold(nu.Host, ou.Host) ||
			!sameEndpoints(opts, mi.Options) {
			continue
		}
		a, b := path.Clean("/"+nu.Path), path.Clean("/"+ou.Path)
		if within(a, b) || within(b, a) {
			return fmt.Errorf("mount %s: under-store %s overlaps %s, mounted at %s (a store's directory can be mounted once, and not inside another mount's): %w",
				p, ufs.Redact(uri), ufs.Redact(mi.UfsURI), mi.AlluxioPath, syscall.EINVAL)
		}
	}
	return nil
}

// sameEndpoints reports whether two mounts' options name the same
// endpoints: the options whose key says endpoint or host, compared as the
// stores read them (keys without regard to case, values trimmed).
func sameEndpoints(a, b map[string]string) bool {
	where := func(opts map[string]string) map[string]string {
		m := ufs.NewOptions(opts).Matching(func(k string) bool {
			return strings.Contains(k, "endpoint") || strings.Contains(k, "host")
		})
		for k, v := range m {
			m[k] = strings.TrimSuffix(v, "/")
		}
		return m
	}
	return maps.Equal(where(a), where(b))
}

// storeFamily names the stores a URI scheme reaches: s3, s3a and s3n all
// reach S3 buckets.
func storeFamily(scheme string) string {
	switch scheme {
	case "s3a", "s3n":
		return "s3"
	}
	return scheme
}

// openAndStat opens an under-store for a mount at p and checks that its
// root is a directory. Errors name the URI without credentials.
func (m *Master) openAndStat(ctx context.Context, p, uri string, opts map[string]string) (ufs.UFS, ufsEntry, error) {
	u, err := m.cfg.OpenUFS(uri, opts)
	if err != nil {
		return nil, ufsEntry{}, scrubError(fmt.Errorf("mount %s: open under-store %s: %w", p, ufs.Redact(uri), err), uri, opts)
	}
	fi, err := u.Stat(ctx, "")
	if err == nil && !fi.IsDir() {
		err = syscall.ENOTDIR
	}
	if err != nil {
		u.Close()
		return nil, ufsEntry{}, scrubError(fmt.Errorf("mount %s: under-store %s: root: %w", p, ufs.Redact(uri), err), uri, opts)
	}
	root := entryFromUFS("", fi, "")
	root.IsDir = true
	return u, root, nil
}

// MountOptions tune Mount.
type MountOptions struct {
	// ReadOnly refuses every mutation below the mount point with EROFS.
	ReadOnly bool
	// Shared marks the mount visible to every user.
	Shared bool
	// Options configure the under-store (may hold credentials).
	Options map[string]string
}

// Mount attaches the under-store at ufsURI at alluxioPath, which must not
// exist yet while its parent must. The store must open and its root must
// be a directory.
func (m *Master) Mount(ctx context.Context, alluxioPath, ufsURI string, o MountOptions) error {
	const op = "mount"
	p, err := m.begin(op, alluxioPath)
	if err != nil {
		return err
	}
	if err := m.authorize(ctx, op, p, accRoot); err != nil {
		return err
	}
	if p == "/" {
		return fmt.Errorf("mount point / already exists: %w", syscall.EEXIST)
	}
	if r, ok := m.replayed(ctx); ok {
		return r.err
	}
	if err := m.syncPath(ctx, p); err != nil {
		return err
	}
	ctx, unlock, replay, err := m.lockPaths(ctx, p)
	if replay != nil || err != nil {
		return answeredErr(replay, err)
	}
	defer unlock()
	if err := m.fsm.view(func(t *txn) error { _, err := checkMount(t, p); return err }); err != nil {
		return err
	}
	u, root, err := m.openAndStat(ctx, p, ufsURI, o.Options)
	if err != nil {
		return err
	}
	if err := m.fsm.view(func(t *txn) error { return checkOverlap(t.mountTable(), p, ufsURI, o.Options) }); err != nil {
		u.Close()
		return err
	}
	mi, err := result[MountInfo](m.proposeRequest(ctx, &mountCmd{
		Path: p, URI: ufsURI, Options: o.Options, ReadOnly: o.ReadOnly, Shared: o.Shared,
		Root: root, Now: time.Now().UnixNano(),
	}))
	if err != nil {
		u.Close()
		return err
	}
	m.cacheUFS(mi, u)
	m.log.Info("mounted", "path", p, "ufs", ufs.Redact(ufsURI), "mountId", mi.ID, "readOnly", o.ReadOnly)
	return nil
}

// Unmount detaches the mount at alluxioPath: its subtree leaves the
// namespace; the under-store is not touched, but for the files unlinked
// that were still to leave it (deferdelete.go). "/" cannot be unmounted.
func (m *Master) Unmount(ctx context.Context, alluxioPath string) error {
	const op = "unmount"
	p, err := m.begin(op, alluxioPath)
	if err != nil {
		return err
	}
	if err := m.authorize(ctx, op, p, accRoot); err != nil {
		return err
	}
	if r, ok := m.replayed(ctx); ok {
		return r.err
	}
	ctx, unlock, replay, err := m.lockPaths(ctx, p)
	if replay != nil || err != nil {
		return answeredErr(replay, err)
	}
	defer unlock()
	var (
		at       MountInfo
		deferred bool
	)
	if err := m.fsm.view(func(t *txn) error {
		var err error
		if at, err = checkUnmount(t, p); err != nil {
			return err
		}
		deferred = hasDeferred(t, at, "")
		return nil
	}); err != nil {
		return err
	}
	// Files unlinked from the mount leave its store before it goes:
	// mounted again, they would come back. An unlink recorded meanwhile
	// makes the command refuse (errDeferredLeft): the store is emptied of
	// it too, and the command proposed again, as a request of its own
	// (the first one's answer is recorded).
	var mi MountInfo
	for try := 0; ; try++ {
		if deferred {
			if err := m.flushDeletes(ctx, at, ""); err != nil {
				return err
			}
		}
		var err error
		mi, err = result[MountInfo](m.proposeRequest(ctx, &unmountCmd{Path: p, Now: time.Now().UnixNano()}))
		if errors.Is(err, errDeferredLeft) && try < 10 {
			deferred = true
			ctx = WithRequestID(ctx, NewRequestID())
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	m.ufsMu.Lock()
	o := m.ufsCache[mi.ID]
	delete(m.ufsCache, mi.ID)
	m.ufsMu.Unlock()
	if o != nil {
		o.u.Close()
	}
	m.sync.forget(p)
	m.log.Info("unmounted", "path", p, "ufs", ufs.Redact(mi.UfsURI), "mountId", mi.ID)
	return nil
}

// Mounts returns the mount table ordered by mount point.
func (m *Master) Mounts() []MountInfo {
	var out []MountInfo
	err := m.fsm.view(func(t *txn) error {
		for _, mi := range t.mountTable() {
			mi.Options = maps.Clone(mi.Options)
			out = append(out, mi)
		}
		return nil
	})
	if err != nil {
		m.log.Error("read mount table", "err", err)
		return nil
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AlluxioPath < out[j].AlluxioPath })
	return out
}

// MountByID returns the mount with the given id.
func (m *Master) MountByID(id uint64) (MountInfo, bool) {
	for _, mi := range m.Mounts() {
		if mi.ID == id {
			return mi, true
		}
	}
	return MountInfo{}, false
}

// Resolve returns the mount path lies in (longest mount point prefix) and
// the path relative to that mount's under-store.
func (m *Master) Resolve(path string) (MountInfo, string, error) {
	p, err := cleanPath("resolve", path)
	if err != nil {
		return MountInfo{}, "", err
	}
	var (
		mi  MountInfo
		rel string
		ok  bool
	)
	if err := m.fsm.view(func(t *txn) error { mi, rel, ok = t.mountTable().resolve(p); return nil }); err != nil {
		return MountInfo{}, "", err
	}
	if !ok {
		return MountInfo{}, "", fmt.Errorf("resolve %s: no root mount: %w", p, syscall.ENOENT)
	}
	mi.Options = maps.Clone(mi.Options)
	return mi, rel, nil
}

// UFS returns the opened under-store of a mount, opening it with
// Config.OpenUFS on first use.
func (m *Master) UFS(mountID uint64) (ufs.UFS, error) {
	mi, ok := m.MountByID(mountID)
	if !ok {
		return nil, fmt.Errorf("meta: mount %d: %w", mountID, syscall.ENOENT)
	}
	return m.ufsFor(mi)
}

// ufsFor returns the cached under-store for a mount record, (re)opening it
// when the record changed since.
func (m *Master) ufsFor(mi MountInfo) (ufs.UFS, error) {
	if u := m.cachedUFS(mi); u != nil {
		return u, nil
	}
	v, err, _ := m.ufsGroup.Do(strconv.FormatUint(mi.ID, 10), func() (any, error) {
		if u := m.cachedUFS(mi); u != nil {
			return u, nil
		}
		u, err := m.cfg.OpenUFS(mi.UfsURI, mi.Options)
		if err != nil {
			return nil, scrubError(fmt.Errorf("mount %s: open under-store %s: %w", mi.AlluxioPath, ufs.Redact(mi.UfsURI), err), mi.UfsURI, mi.Options)
		}
		m.cacheUFS(mi, u)
		return u, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(ufs.UFS), nil
}

// cachedUFS returns the cached under-store opened for exactly this record.
func (m *Master) cachedUFS(mi MountInfo) ufs.UFS {
	m.ufsMu.Lock()
	defer m.ufsMu.Unlock()
	if o := m.ufsCache[mi.ID]; o != nil && o.mount.UfsURI == mi.UfsURI && maps.Equal(o.mount.Options, mi.Options) {
		return o.u
	}
	return nil
}

// cacheUFS remembers an opened under-store, closing the one it replaces.
func (m *Master) cacheUFS(mi MountInfo, u ufs.UFS) {
	m.ufsMu.Lock()
	old := m.ufsCache[mi.ID]
	m.ufsCache[mi.ID] = &openedUFS{mount: mi, u: u}
	m.ufsMu.Unlock()
	if old != nil && old.u != u {
		old.u.Close()
	}
}
