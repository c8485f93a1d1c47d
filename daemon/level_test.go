package daemon

import (
	"context"
	"testing"

	"github.com/alluxio-go/alluxio/meta"
)

// TestPeerLevel: a master says which journal commands it applies, and the
// question a leader asks before proposing a newer kind of command gets
// that answer; a master that does not answer is an error, not a level.
func TestPeerLevel(t *testing.T) {
	sc := startSCCluster(t, "64MB")
	ctx := context.Background()
	if st := sc.master.RaftStatus(); st.CommandLevel != meta.CommandLevel {
		t.Errorf("RaftStatus says level %d, want %d", st.CommandLevel, meta.CommandLevel)
	}
	if level, err := peerLevel(ctx, sc.rpc); err != nil || level != meta.CommandLevel {
		t.Errorf("peerLevel: %d, %v; want %d", level, err, meta.CommandLevel)
	}
	if level, err := peerLevel(ctx, "127.0.0.1:"+freeTCPPort(t)); err == nil {
		t.Errorf("peerLevel of an address where no master listens: %d, no error", level)
	}
}
