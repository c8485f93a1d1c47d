package meta

import (
	"time"

	"github.com/hashicorp/raft"
)

// DefaultCheckpointPeriodEntries is the number of journal entries after
// which the embedded journal snapshots the metastore and compacts its log
// when CheckpointConfig.PeriodEntries is 0.
//
// Alluxio's default for alluxio.master.journal.checkpoint.period.entries is
// 2,000,000. Ours is lower because a snapshot is cheap to keep and costly
// to miss: the log between snapshots stays on disk (its segment files go
// only once a snapshot covers them), and a follower that falls behind the
// log's start catches up from a snapshot. Not much lower, because a
// snapshot copies the whole metastore (about 750 bytes a file): with
// 10,000,000 files, a snapshot every 500,000 entries writes some 7 GB
// every few minutes of sustained creates, and every 100,000 entries it
// would never stop. Restarts do not depend on it: the metastore is
// persistent, so a restarted master replays only the entries it missed.
const DefaultCheckpointPeriodEntries = 500_000

// defaultCheckpointInterval is how often Raft looks whether a snapshot is
// due when CheckpointConfig.Interval is 0.
const defaultCheckpointInterval = 30 * time.Second

// maxTrailingEntries bounds the log kept behind a snapshot by default.
const maxTrailingEntries = 10_240

// CheckpointConfig says when the embedded journal snapshots the metastore
// and compacts its log. A follower whose next entry was compacted away
// catches up by installing the leader's latest snapshot.
type CheckpointConfig struct {
	// PeriodEntries is the number of entries after the last snapshot that
	// make the next one due (alluxio.master.journal.checkpoint.period.entries);
	// 0 means DefaultCheckpointPeriodEntries.
	PeriodEntries uint64
	// Interval is how often Raft looks whether a snapshot is due: at a
	// random time between Interval and twice it
	// (alluxio.master.journal.checkpoint.check.interval); 0 means 30 s.
	Interval time.Duration
	// TrailingEntries is how many entries the log keeps behind a snapshot,
	// so that a follower a little behind catches up from the log rather
	// than from a whole snapshot; 0 means a tenth of PeriodEntries, at
	// most 10,240.
	TrailingEntries uint64
}

// apply sets Raft's snapshot and compaction knobs.
func (c CheckpointConfig) apply(rc *raft.Config) {
	period := c.PeriodEntries
	if period == 0 {
		period = DefaultCheckpointPeriodEntries
	}
	interval := c.Interval
	if interval <= 0 {
		interval = defaultCheckpointInterval
	}
	trailing := c.TrailingEntries
	if trailing == 0 {
		trailing = max(1, min(period/10, maxTrailingEntries))
	}
	rc.SnapshotThreshold = period
	rc.SnapshotInterval = interval
	rc.TrailingLogs = trailing
}
