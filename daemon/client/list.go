package client

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/fuse"
	"github.com/alluxio-go/alluxio/meta"
)

var _ fuse.Lister = (*FS)(nil)

// ListStatusPage returns one page of directory path: at most limit entries
// (0: the master's page size, alluxio.master.filesystem.liststatus.result.message.length)
// whose names sort after startAfter, in name order, and whether more
// follow. startAfter "" starts a listing, and syncs the directory with its
// under-store when that is due; a file lists as itself. Like every
// idempotent call, a page is retried across unreachable masters and
// leader elections: pages are keyed by name, so a page asked again of a
// new leader continues the listing where it was.
func (c *Client) ListStatusPage(ctx context.Context, path, startAfter string, limit int) ([]meta.FileInfo, bool, error) {
	return c.listPage(ctx, wire.ListPageRequest{Path: path, StartAfter: startAfter, Limit: limit})
}

// listPage asks for one page; a brief page comes back as FileInfos with
// only the fields of wire.BriefEntry set.
func (c *Client) listPage(ctx context.Context, req wire.ListPageRequest) ([]meta.FileInfo, bool, error) {
	path, startAfter := req.Path, req.StartAfter
	var resp wire.ListPageResponse
	sent := time.Now()
	req.BriefBin = req.Brief
	err := c.callMaster(ctx, wire.MasterListStatusPage, true, req, &resp)
	switch {
	case err == nil && resp.BriefData != nil:
		resp.Entries, err = wire.DecodeBrief(resp.BriefData, path)
	case err == nil && resp.Brief != nil:
		resp.Entries = make([]meta.FileInfo, len(resp.Brief))
		for i, b := range resp.Brief {
			resp.Entries[i] = b.Info(path)
		}
	}
	if err == nil {
		c.mc.update(sent, resp.NS, false, func(u cacheUpdate) {
			for _, fi := range resp.Entries {
				u.putInfo(fi)
			}
			if startAfter == "" && !resp.More {
				u.listed(path, resp.Entries)
			}
		})
	}
	if err != nil && startAfter == "" && errors.Is(err, syscall.ENOSYS) {
		// A master from before paged listings: the whole listing is
		// the one page.
		all, err := c.ListStatus(ctx, path)
		return all, false, err
	}
	return resp.Entries, resp.More, err
}

// ListStatusPages lists directory path (or describes a file) page by page,
// calling fn with each page as it arrives, so that a directory of any size
// is listed in the memory of one page. An error from fn ends the listing
// and is returned.
func (c *Client) ListStatusPages(ctx context.Context, path string, fn func([]meta.FileInfo) error) error {
	after := ""
	for {
		page, more, err := c.ListStatusPage(ctx, path, after, 0)
		if err != nil {
			return err
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		if !more || len(page) == 0 {
			return nil
		}
		after = page[len(page)-1].Name
	}
}

// ListPage implements fuse.Lister, from the metadata cache for a
// directory it knows whole while it is trusted (metaCache.list).
func (f *FS) ListPage(ctx context.Context, path, startAfter string, limit int) ([]fuse.Entry, bool, error) {
	if entries, ok := f.c.mc.list(path, startAfter); ok {
		if limit > 0 && len(entries) > limit {
			return entries[:limit], true, nil
		}
		return entries, false, nil
	}
	infos, more, err := f.c.listPage(ctx, wire.ListPageRequest{Path: path, StartAfter: startAfter, Limit: limit, Brief: true})
	if err != nil {
		return nil, false, err
	}
	return entriesOf(infos), more, nil
}

// entriesOf converts master metadata to FUSE directory entries.
func entriesOf(infos []meta.FileInfo) []fuse.Entry {
	out := make([]fuse.Entry, len(infos))
	for i, fi := range infos {
		out[i] = fuse.Entry{Name: fi.Name, Attr: AttrOf(fi)}
	}
	return out
}
