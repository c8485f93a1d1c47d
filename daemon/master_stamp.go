package daemon

import (
	"context"
	"errors"
	"path"
	"syscall"

	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

// stamper reads the namespace version around calls whose answers clients
// cache (wire.Stamp).
type stamper struct{ mm *meta.Master }

// around runs fn and returns its stamp, or nil when the epoch changed
// during the call (the answer then says nothing about the cache).
func (s stamper) around(fn func()) *wire.Stamp {
	e0, c0 := s.mm.NamespaceVersion()
	fn()
	e1, c1 := s.mm.NamespaceVersion()
	if e0 != e1 {
		return nil
	}
	return &wire.Stamp{Epoch: e1, Before: c0, After: c1}
}

// handleInfo serves a call that answers with one file's status, stamped.
func handleInfo[Req any](m *Master, method string, fn func(ctx context.Context, r Req) (meta.FileInfo, error)) {
	s := stamper{m.meta}
	handle(m.server, method, func(ctx context.Context, r Req) (any, error) {
		var (
			fi  meta.FileInfo
			err error
		)
		ns := s.around(func() { fi, err = fn(ctx, r) })
		if err != nil {
			return nil, err
		}
		return infoAnswer(ctx, wire.StampedInfo{FileInfo: fi, NS: ns}), nil
	})
}

// handleDone serves a call that answers with its stamp and the statuses
// of the paths it changed, named by the call (read within the stamp).
func handleDone[Req any](m *Master, method string, fn func(ctx context.Context, r Req) ([]string, error)) {
	s := stamper{m.meta}
	handle(m.server, method, func(ctx context.Context, r Req) (any, error) {
		var (
			out wire.Stamped
			err error
		)
		out.NS = s.around(func() {
			var changed []string
			if changed, err = fn(ctx, r); err != nil {
				return
			}
			out.Infos = m.meta.StatChanged(changed...)
		})
		if err != nil {
			return nil, err
		}
		return doneAnswer(ctx, out), nil
	})
}

// stampRoutes serves the namespace calls whose answers carry a stamp.
func (m *Master) stampRoutes() {
	mm := m.meta
	s := stamper{mm}
	handle(m.server, wire.MasterGetStatus, func(ctx context.Context, r wire.StatRequest) (any, error) {
		var (
			fi  meta.FileInfo
			err error
		)
		ns := s.around(func() { fi, err = mm.GetStatus(ctx, r.Path) })
		if r.Probe && errors.Is(err, syscall.ENOENT) {
			return infoAnswer(ctx, wire.StampedInfo{Missing: true, NS: ns}), nil
		}
		if err != nil {
			return nil, err
		}
		return infoAnswer(ctx, wire.StampedInfo{FileInfo: fi, NS: ns}), nil
	})
	handle(m.server, wire.MasterListStatusPage, func(ctx context.Context, r wire.ListPageRequest) (any, error) {
		limit := meta.DefaultListPageSize
		if m.cfg.Conf != nil {
			limit = m.cfg.Conf.Int(wire.ListPageSizeKey)
		}
		if r.Limit > 0 && r.Limit < limit {
			limit = r.Limit
		}
		var (
			entries []meta.FileInfo
			more    bool
			err     error
		)
		ns := s.around(func() { entries, more, err = mm.ListStatusPage(ctx, r.Path, r.StartAfter, limit) })
		page := wire.FitPage(wire.ListPageResponse{Entries: entries, More: more, NS: ns})
		// A file lists as itself, which a brief entry (named within
		// the listed directory) cannot say.
		brief := r.Brief && err == nil && (len(page.Entries) == 0 || path.Dir(page.Entries[0].Path) == path.Clean(r.Path))
		if brief && r.BriefBin {
			data := wire.AppendBrief(nil, page.Entries)
			page.Entries = nil
			return &rpc.Response{Body: page, Data: data}, nil
		}
		if brief {
			page.Brief = make([]wire.BriefEntry, len(page.Entries))
			for i, fi := range page.Entries {
				page.Brief[i] = wire.BriefOf(fi)
			}
			page.Entries = nil
		}
		return page, err
	})
	handleInfo(m, wire.MasterCreateFile, func(ctx context.Context, r wire.CreateFileRequest) (meta.FileInfo, error) {
		return mm.CreateFile(ctx, r.Path, r.Options)
	})
	handleInfo(m, wire.MasterCompleteFile, func(ctx context.Context, r wire.CompleteFileRequest) (meta.FileInfo, error) {
		return mm.CompleteFile(ctx, r.ID, r.Options)
	})
	handleInfo(m, wire.MasterCreateDirectory, func(ctx context.Context, r wire.MkdirRequest) (meta.FileInfo, error) {
		return mm.CreateDirectory(ctx, r.Path, r.Options)
	})
	handleDone(m, wire.MasterDelete, func(ctx context.Context, r wire.DeleteRequest) ([]string, error) {
		err := mm.DeleteWith(ctx, r.Path, meta.DeleteOptions{Recursive: r.Recursive, Unlink: r.Unlink, Rmdir: r.Rmdir})
		return []string{path.Dir(r.Path)}, err
	})
	handleDone(m, wire.MasterRename, func(ctx context.Context, r wire.RenameRequest) ([]string, error) {
		err := mm.RenameWith(ctx, r.Src, r.Dst, meta.RenameOptions{NoReplace: r.NoReplace})
		changed := []string{r.Dst, path.Dir(r.Src)}
		if d := path.Dir(r.Dst); d != changed[1] {
			changed = append(changed, d)
		}
		return changed, err
	})
	handleDone(m, wire.MasterExchange, func(ctx context.Context, r wire.ExchangeRequest) ([]string, error) {
		err := mm.Exchange(ctx, r.A, r.B)
		changed := []string{r.A, r.B, path.Dir(r.A)}
		if d := path.Dir(r.B); d != changed[2] {
			changed = append(changed, d)
		}
		return changed, err
	})
	handleInfo(m, wire.MasterSetAttr, func(ctx context.Context, r wire.SetAttrRequest) (meta.FileInfo, error) {
		return mm.SetAttr(ctx, r.Path, r.Options)
	})
	handleInfo(m, wire.MasterCreateSymlink, func(ctx context.Context, r wire.SymlinkRequest) (meta.FileInfo, error) {
		return mm.CreateSymlink(ctx, r.Path, r.Target, r.UID, r.GID)
	})
	handleInfo(m, wire.MasterNewVersion, func(ctx context.Context, r wire.IDRequest) (meta.FileInfo, error) {
		return mm.NewVersion(ctx, r.ID)
	})
	handleInfo(m, wire.MasterRestoreVersion, func(ctx context.Context, r wire.RestoreVersionRequest) (meta.FileInfo, error) {
		return mm.RestoreVersion(ctx, r.ID, r.Made, r.Old)
	})
	handleInfo(m, wire.MasterStatusByID, func(ctx context.Context, r wire.IDRequest) (meta.FileInfo, error) {
		if r.Settled {
			return mm.SettledStatusByID(ctx, r.ID)
		}
		return mm.StatusByID(ctx, r.ID)
	})
	handleInfo(m, wire.MasterCompleteEmpty, func(ctx context.Context, r wire.CompleteEmptyRequest) (meta.FileInfo, error) {
		return mm.CompleteEmpty(ctx, r.ID, meta.EmptyOptions{Persist: r.Persist, Kept: r.Kept})
	})
}
