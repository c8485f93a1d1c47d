package daemon

import (
	"context"

	"github.com/alluxio-go/alluxio/daemon/wire"
)

// writeRoutes serve writers that follow their file by inode id.
func (m *Master) writeRoutes() {
	handle(m.server, wire.MasterNewVersion, func(ctx context.Context, r wire.IDRequest) (any, error) {
		return m.meta.NewVersion(ctx, r.ID)
	})
	handle(m.server, wire.MasterStatusByID, func(ctx context.Context, r wire.IDRequest) (any, error) {
		return m.meta.StatusByID(ctx, r.ID)
	})
	handle(m.server, wire.MasterCompleteEmpty, func(ctx context.Context, r wire.CompleteEmptyRequest) (any, error) {
		return m.meta.CompleteEmpty(ctx, r.ID, r.Persist)
	})
	handle(m.server, wire.MasterDropOrphan, func(ctx context.Context, r wire.OrphanRequest) (any, error) {
		return nil, m.meta.DropOrphan(ctx, r.MountID, r.UfsPath, r.UfsFingerprint)
	})
}
