package daemon

import (
	"context"

	"github.com/alluxio-go/alluxio/daemon/wire"
)

// writeRoutes serve writers that follow their file by inode id.
func (m *Master) writeRoutes() {
	handle(m.server, wire.MasterDropOrphan, func(ctx context.Context, r wire.OrphanRequest) (any, error) {
		return nil, m.meta.DropOrphan(ctx, r.MountID, r.UfsPath, r.UfsFingerprint)
	})
}
