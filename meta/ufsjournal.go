package meta

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/raft"

	"github.com/alluxio-go/alluxio/meta/zkelect"
	"github.com/alluxio-go/alluxio/ufs"
)

// The UFS journal: the master that ZooKeeper elects writes the commands to
// immutable log files in a folder of a shared under-store and checkpoints
// the metastore there; the others replay them. Its layout:
//
//	logs/<first>-<last>-<epoch>.log   entries first..last, written by epoch
//	epochs/<epoch>                    written by a leader before it replays
//	checkpoints/<seq>.ckpt            the metastore as of entry seq
//
// Numbers are zero-padded decimals, so names sort in order.
//
// Fencing: a new leader takes an epoch above every earlier one, writes its
// epochs/ marker, and only then lists the log and replays it. A leader
// acknowledges (and applies) a log file only after checking, once the file
// is written, that no higher epoch marker exists. So a file that passed
// that check is seen by every later leader, which appends after it. A file
// that an old leader wrote after a new leader's marker is never
// acknowledged; it is dropped once the new leader writes a file that starts
// at or before its end (a higher epoch overlapping it wins), and a new
// leader writes a no-op file as soon as it has replayed, to settle such
// files quickly. A standby applies a file only when it is settled: no
// higher epoch exists, or a higher epoch's file starts after it.
const (
	ujLogs        = "logs"
	ujEpochs      = "epochs"
	ujCheckpoints = "checkpoints"
	ujMagic       = "AXJLOG1\n"
	// ujMaxBatch bounds the commands written in one log file.
	ujMaxBatch = 256
	// ujKeepCheckpoints is how many checkpoints are kept.
	ujKeepCheckpoints = 2
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// ufsJournalConfig is what a UFS journal needs.
type ufsJournalConfig struct {
	// Store is the journal folder (alluxio.master.journal.folder).
	Store ufs.UFS
	// Where names the folder in messages (a redacted URI).
	Where string
	// Elect is this master's candidacy.
	Elect elector
	// RPCAddr is this master's client address (its id in the election).
	RPCAddr string
	// CheckpointEntries is how many entries the leader writes between
	// checkpoints.
	CheckpointEntries uint64
	// TailInterval is how often a standby looks for new log files.
	TailInterval time.Duration
	// Notify receives true when this master starts leading (after it has
	// replayed the journal) and false when it stops.
	Notify chan<- bool
}

// elector decides which master leads the UFS journal: a ZooKeeper
// election (*zkelect.Candidate) or, for a single master, soloElector.
type elector interface {
	// Changes delivers this master's leadership changes.
	Changes() <-chan zkelect.Leadership
	// Resign gives leadership up and stands again.
	Resign()
	// Leader returns the leader's RPC address and every candidate's.
	Leader() (string, []string, error)
	// Close withdraws.
	Close() error
}

// soloElector is the election of a master that is alone (no ZooKeeper):
// it leads at once, and again after each resignation.
type soloElector struct {
	rpc     string
	changes chan zkelect.Leadership
	mu      sync.Mutex // guards leading
	leading bool
}

func newSoloElector(rpc string) *soloElector {
	e := &soloElector{rpc: rpc, changes: make(chan zkelect.Leadership, 4), leading: true}
	e.changes <- zkelect.Leadership{Leading: true}
	return e
}

func (e *soloElector) Changes() <-chan zkelect.Leadership { return e.changes }

func (e *soloElector) Resign() {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case e.changes <- zkelect.Leadership{Leading: false}:
	default:
	}
	select {
	case e.changes <- zkelect.Leadership{Leading: true}:
	default:
	}
}

func (e *soloElector) Leader() (string, []string, error) { return e.rpc, []string{e.rpc}, nil }

func (e *soloElector) Close() error { return nil }

// segment is one log file.
type segment struct {
	name               string
	first, last, epoch uint64
}

func (s segment) String() string { return s.name }

func segmentName(first, last, epoch uint64) string {
	return fmt.Sprintf("%s/%020d-%020d-%020d.log", ujLogs, first, last, epoch)
}

// parseSegment parses a log file name; ok is false for anything else (a
// store's temporary files, say).
func parseSegment(name string) (segment, bool) {
	base, ok := strings.CutSuffix(name, ".log")
	if !ok {
		return segment{}, false
	}
	parts := strings.Split(base, "-")
	if len(parts) != 3 {
		return segment{}, false
	}
	var n [3]uint64
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil || len(p) != 20 {
			return segment{}, false
		}
		n[i] = v
	}
	if n[0] == 0 || n[1] < n[0] {
		return segment{}, false
	}
	return segment{name: ujLogs + "/" + name, first: n[0], last: n[1], epoch: n[2]}, true
}

// proposal is a command waiting to be written by the leader.
type proposal struct {
	data []byte
	done chan proposalResult
}

type proposalResult struct {
	resp any
	err  error
}

// ufsJournal is the journal on a shared under-store.
type ufsJournal struct {
	cfg ufsJournalConfig
	fsm *fsm
	log *slog.Logger

	queue chan *proposal
	stop  chan struct{}
	done  chan struct{}

	// mu guards the leadership fields; writeMu serialises log writes and
	// replays, so the metastore is only advanced by one of them at once.
	mu        sync.Mutex
	leadingOn bool
	epoch     uint64
	stepDown  chan struct{} // closed to end the current leadership
	writeMu   sync.Mutex
	// kicks counts kick calls: a writer letting go of writeMu checks it
	// to see whether a proposal came in while it held the lock.
	kicks atomic.Uint64

	// built is the folder's format (ujFormat) that the metastore was
	// built from; a master that finds another one stops (see
	// checkFormat). fatal, when set, replaces that stop (tests).
	built folderFormat
	fatal atomic.Pointer[func(error)]

	lastSeen   atomic.Uint64 // last entry seen in the journal
	sinceCkpt  atomic.Uint64 // entries written since the last checkpoint
	ckptMu     sync.Mutex    // one checkpoint at a time
	writes     atomic.Uint64
	entries    atomic.Uint64
	lastReplay atomic.Int64 // unix nanos of the last successful tail
}

// openUFSJournal checks the folder, replays it up to what is settled (a
// corrupt or truncated file stops here, named in the error) and starts
// following the election.
func openUFSJournal(cfg ufsJournalConfig, f *fsm, log *slog.Logger) (*ufsJournal, error) {
	if cfg.CheckpointEntries == 0 {
		cfg.CheckpointEntries = DefaultCheckpointPeriodEntries
	}
	if cfg.TailInterval <= 0 {
		cfg.TailInterval = time.Second
	}
	j := &ufsJournal{
		cfg: cfg, fsm: f, log: log.With("component", "journal", "folder", cfg.Where),
		queue: make(chan *proposal, 4*ujMaxBatch), stop: make(chan struct{}), done: make(chan struct{}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultApplyTimeout)
	defer cancel()
	for _, d := range []string{ujLogs, ujEpochs, ujCheckpoints} {
		if err := mkdirIfMissing(ctx, cfg.Store, d); err != nil {
			return nil, fmt.Errorf("meta: journal folder %s: %w", cfg.Where, err)
		}
	}
	if err := j.adoptFormat(ctx); err != nil {
		return nil, err
	}
	// A gap may be a file the listing missed while the leader wrote it:
	// list again before calling it one.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = j.catchUp(ctx, false); err == nil || !errors.Is(err, errJournalGap) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return nil, err
	}
	go j.run()
	return j, nil
}

func mkdirIfMissing(ctx context.Context, u ufs.UFS, d string) error {
	if _, err := u.Stat(ctx, d); err == nil {
		return nil
	}
	if err := u.Mkdir(ctx, d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// run follows the election: a standby tails the journal; on winning, the
// master leads until it loses the election, is fenced or fails to write.
func (j *ufsJournal) run() {
	defer close(j.done)
	tick := time.NewTicker(j.cfg.TailInterval)
	defer tick.Stop()
	for {
		select {
		case <-j.stop:
			return
		case ch := <-j.cfg.Elect.Changes():
			if ch.Leading {
				if err := j.lead(ch.Seq); errors.Is(err, errFormatChanged) {
					j.stopOnFormat(err)
					j.idle()
					return
				}
			}
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), defaultApplyTimeout)
			err := j.catchUp(ctx, false)
			cancel()
			if errors.Is(err, errFormatChanged) {
				j.stopOnFormat(err)
				j.idle()
				return
			}
			if err != nil {
				j.log.Error("replaying the journal failed", "err", err)
			}
		}
	}
}

// lead serves as leader from the epoch after seq until leadership ends.
// It returns an error wrapping errFormatChanged when the folder was
// formatted since the metastore was built (found before leading, or while
// leading).
func (j *ufsJournal) lead(seq uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), defaultApplyTimeout)
	// Checked before the marker: a master of the old journal must not
	// fence the leaders of the new one.
	_, err := j.checkFormat(ctx)
	var epoch uint64
	if err == nil {
		epoch, err = j.fence(ctx, seq)
	}
	if err == nil {
		err = j.catchUpAll(ctx)
	}
	cancel()
	if errors.Is(err, errFormatChanged) {
		return err
	}
	if err != nil {
		j.log.Error("could not take over the journal; standing again", "err", err)
		j.cfg.Elect.Resign()
		return nil
	}
	stop := make(chan struct{})
	j.mu.Lock()
	j.leadingOn, j.epoch, j.stepDown = true, epoch, stop
	j.mu.Unlock()
	// A no-op entry settles what an earlier leader wrote after this
	// one's marker.
	if _, err := j.propose(nil, defaultApplyTimeout); err != nil {
		j.log.Warn("first entry of the new epoch failed", "epoch", epoch, "err", err)
		j.resign("first write failed")
	} else {
		j.log.Info("leading the journal", "epoch", epoch, "lastApplied", j.fsm.lastApplied())
		j.notify(true)
	}
	return j.serve(stop)
}

// serve writes proposals until stop closes or leadership ends.
// It looks at the folder's format every TailInterval: a leader of a
// journal formatted under it gives up and returns the error
// (errFormatChanged), even when no write or read comes to fence it.
func (j *ufsJournal) serve(stop chan struct{}) error {
	tick := time.NewTicker(j.cfg.TailInterval)
	defer tick.Stop()
	for {
		select {
		case <-j.stop:
			j.endLeadership(stop)
			return nil
		case <-stop:
			j.endLeadership(stop)
			return nil
		case ch := <-j.cfg.Elect.Changes():
			if !ch.Leading {
				j.resign("lost the ZooKeeper election")
			}
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), defaultApplyTimeout)
			_, err := j.checkFormat(ctx)
			cancel()
			if errors.Is(err, errFormatChanged) {
				j.resign("the journal folder was formatted")
				j.endLeadership(stop)
				return err
			}
		}
	}
}

// notify tells the master about a leadership change without blocking on
// a master that stopped listening.
func (j *ufsJournal) notify(leading bool) {
	select {
	case j.cfg.Notify <- leading:
	case <-j.stop:
	}
}

// resign ends this leadership (idempotent).
func (j *ufsJournal) resign(why string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.leadingOn {
		j.log.Warn("stepping down", "epoch", j.epoch, "why", why)
		j.leadingOn = false
		close(j.stepDown)
	}
}

// endLeadership fails the waiting proposals and stands again.
func (j *ufsJournal) endLeadership(stop chan struct{}) {
	j.mu.Lock()
	was := j.stepDown == stop
	if j.leadingOn && was {
		j.leadingOn = false
		close(j.stepDown)
	}
	j.mu.Unlock()
	for {
		select {
		case p := <-j.queue:
			p.done <- proposalResult{err: errNotLeading}
		default:
			j.notify(false)
			select {
			case <-j.stop:
			default:
				j.cfg.Elect.Resign()
			}
			return
		}
	}
}

// fence picks an epoch above every earlier one and writes its marker.
func (j *ufsJournal) fence(ctx context.Context, seq uint64) (uint64, error) {
	top, err := j.maxEpoch(ctx)
	if err != nil {
		return 0, err
	}
	epoch := max(seq, top+1)
	if err := j.writeFile(ctx, fmt.Sprintf("%s/%020d", ujEpochs, epoch), []byte(j.cfg.RPCAddr+"\n")); err != nil {
		return 0, fmt.Errorf("meta: journal %s: write epoch marker %d: %w", j.cfg.Where, epoch, err)
	}
	return epoch, nil
}

// maxEpoch returns the highest epoch marker.
func (j *ufsJournal) maxEpoch(ctx context.Context) (uint64, error) {
	var top uint64
	err := j.cfg.Store.List(ctx, ujEpochs, func(fi ufs.FileInfo) error {
		if v, ok := parseEpoch(fi.Name); ok {
			top = max(top, v)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("meta: journal %s: list %s: %w", j.cfg.Where, ujEpochs, err)
	}
	return top, nil
}

// writeFile stores data at p in one piece.
func (j *ufsJournal) writeFile(ctx context.Context, p string, data []byte) error {
	return writeObject(ctx, j.cfg.Store, p, data)
}

// scan lists the valid log files in order: a file is dropped when a file
// of a higher epoch starts at or before its end, or when its epoch is
// below since (the folder's format epoch: a leader of the journal that
// the format erased wrote it).
func (j *ufsJournal) scan(ctx context.Context, since uint64) ([]segment, error) {
	var all []segment
	err := j.cfg.Store.List(ctx, ujLogs, func(fi ufs.FileInfo) error {
		if s, ok := parseSegment(fi.Name); ok && s.epoch >= since {
			all = append(all, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("meta: journal %s: list %s: %w", j.cfg.Where, ujLogs, err)
	}
	var valid []segment
	for _, s := range all {
		if !invalid(s, all) {
			valid = append(valid, s)
		}
	}
	slices.SortFunc(valid, func(a, b segment) int { return cmp.Compare(a.first, b.first) })
	return valid, nil
}

// catchUp applies the journal's entries after the metastore's last one.
// A standby stops at the first file not yet settled; a new leader
// (leader set, its marker written) applies every valid file. It fails
// with errFormatChanged when the folder was formatted since the metastore
// was built.
func (j *ufsJournal) catchUp(ctx context.Context, leader bool) error {
	_, err := j.catchUpRound(ctx, leader)
	return err
}

// catchUpAll is catchUp for a new leader, in as many rounds as it takes
// to apply every entry before its epoch's first: a round that restored a
// checkpoint, or whose listing missed a file, is not all, and the leader's
// first entry would take the place of those it had not applied.
func (j *ufsJournal) catchUpAll(ctx context.Context) error {
	for {
		complete, err := j.catchUpRound(ctx, true)
		if err != nil || complete {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("meta: journal %s: not caught up before taking over: %w", j.cfg.Where, ctx.Err())
		case <-time.After(50 * time.Millisecond): // a listing that missed a file: ask again
		}
	}
}

// catchUpRound is one round of catchUp; complete reports that it applied
// every valid file it listed (a round that restored a checkpoint, or
// stopped at a file its listing missed or one not settled yet, did not).
func (j *ufsJournal) catchUpRound(ctx context.Context, leader bool) (complete bool, err error) {
	j.writeMu.Lock()
	seen := j.kicks.Load()
	defer func() {
		j.writeMu.Unlock()
		if j.kicks.Load() != seen {
			j.kick() // proposals that came in meanwhile
		}
	}()
	format, err := j.checkFormat(ctx)
	if err != nil {
		return false, err
	}
	segs, err := j.scan(ctx, format.Epoch)
	if err != nil {
		return false, err
	}
	var top uint64
	if !leader {
		// Listed after the files: a marker written later belongs to a
		// leader that sees every file listed here.
		if top, err = j.maxEpoch(ctx); err != nil {
			return false, err
		}
	}
	if n := len(segs); n > 0 {
		j.lastSeen.Store(max(j.lastSeen.Load(), segs[n-1].last))
	}
	applied := j.fsm.lastApplied()
	i := slices.IndexFunc(segs, func(s segment) bool { return s.last > applied })
	if i < 0 {
		err := j.restoreNewer(ctx, applied, 0)
		if err == nil {
			j.lastReplay.Store(time.Now().UnixNano())
		}
		return err == nil, err
	}
	if segs[i].first > applied+1 {
		// Compacted past this master: start from a checkpoint. (Or a
		// listing that ran while files were added missed the next one:
		// a directory listing need not return files made during it.
		// Then there is no newer checkpoint, and the caller lists again.)
		if err := j.restoreNewer(ctx, applied, segs[i].first-1); err != nil {
			return false, err
		}
		return false, nil // the next round goes on from the checkpoint
	}
	next := applied + 1
	for k, s := range segs[i:] {
		if s.first > next {
			break // not listed this time (see above): never skip entries
		}
		if !leader && s.epoch < top && !settled(s, segs[i+k+1:]) {
			break
		}
		if err := j.replay(ctx, s); err != nil {
			return false, err
		}
		next = s.last + 1
	}
	j.lastReplay.Store(time.Now().UnixNano())
	return next > segs[len(segs)-1].last, nil
}

// invalid reports whether s was written by a deposed leader after its
// successor began: a file of a higher epoch starts at or before its end.
func invalid(s segment, all []segment) bool {
	return slices.ContainsFunc(all, func(t segment) bool { return t.epoch > s.epoch && t.first <= s.last })
}

// settled reports whether s, from an epoch below the highest marker, is
// final: a later file of a higher epoch starts after it.
func settled(s segment, later []segment) bool {
	return slices.ContainsFunc(later, func(t segment) bool { return t.epoch > s.epoch && t.first > s.last })
}

// replay applies one log file.
func (j *ufsJournal) replay(ctx context.Context, s segment) error {
	data, err := j.readSegment(ctx, s)
	if err != nil {
		return err
	}
	logs := make([]*raft.Log, len(data))
	for i, d := range data {
		logs[i] = entryLog(s.first+uint64(i), s.epoch, d)
	}
	j.fsm.ApplyBatch(logs)
	return nil
}

// entryLog wraps a journal entry as the Raft log entry the state machine
// applies; an empty entry is a no-op.
func entryLog(index, epoch uint64, data []byte) *raft.Log {
	if len(data) == 0 {
		return &raft.Log{Index: index, Term: epoch, Type: raft.LogNoop}
	}
	return &raft.Log{Index: index, Term: epoch, Type: raft.LogCommand, Data: data}
}

// readSegment reads and checks every entry of a log file.
func (j *ufsJournal) readSegment(ctx context.Context, s segment) ([][]byte, error) {
	bad := func(what string, args ...any) error {
		return fmt.Errorf("meta: journal file %s in %s is corrupt or truncated: %s: %w",
			s.name, j.cfg.Where, fmt.Sprintf(what, args...), syscall.EIO)
	}
	rc, err := j.cfg.Store.OpenRange(ctx, s.name, 0, -1)
	if errors.Is(err, fs.ErrNotExist) {
		// The leader compacted it away after a checkpoint since it was
		// listed: list again, and start from that checkpoint.
		return nil, fmt.Errorf("meta: journal file %s in %s went away since it was listed: %w: %w", s.name, j.cfg.Where, errJournalGap, err)
	}
	if err != nil {
		return nil, fmt.Errorf("meta: journal file %s in %s: %w", s.name, j.cfg.Where, err)
	}
	defer rc.Close()
	r := bufio.NewReader(rc)
	magic := make([]byte, len(ujMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != ujMagic {
		return nil, bad("no journal header")
	}
	want := s.last - s.first + 1
	out := make([][]byte, 0, want)
	var hdr [8]byte
	for uint64(len(out)) < want {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, bad("%d of %d entries", len(out), want)
		}
		n, sum := binary.BigEndian.Uint32(hdr[:4]), binary.BigEndian.Uint32(hdr[4:])
		if n > maxEntryBytes {
			return nil, bad("entry %d claims %d bytes", s.first+uint64(len(out)), n)
		}
		d := make([]byte, n)
		if _, err := io.ReadFull(r, d); err != nil {
			return nil, bad("entry %d cut short", s.first+uint64(len(out)))
		}
		if crc32.Checksum(d, crc32c) != sum {
			return nil, bad("entry %d fails its checksum", s.first+uint64(len(out)))
		}
		out = append(out, d)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, bad("bytes after entry %d", s.last)
	}
	return out, nil
}

// errJournalGap reports log files missing between the metastore's last
// entry and the next file listed.
var errJournalGap = errors.New("journal gap")

// maxEntryBytes bounds one journal entry.
const maxEntryBytes = 256 << 20

// encodeSegment lays out entries as a log file.
func encodeSegment(entries [][]byte) []byte {
	size := len(ujMagic)
	for _, e := range entries {
		size += 8 + len(e)
	}
	out := make([]byte, 0, size)
	out = append(out, ujMagic...)
	for _, e := range entries {
		out = binary.BigEndian.AppendUint32(out, uint32(len(e)))
		out = binary.BigEndian.AppendUint32(out, crc32.Checksum(e, crc32c))
		out = append(out, e...)
	}
	return out
}

// checkpoint is one stored metastore image.
type checkpoint struct {
	name string
	seq  uint64
}

func (j *ufsJournal) checkpoints(ctx context.Context) ([]checkpoint, error) {
	var out []checkpoint
	err := j.cfg.Store.List(ctx, ujCheckpoints, func(fi ufs.FileInfo) error {
		base, ok := strings.CutSuffix(fi.Name, ".ckpt")
		if v, err := strconv.ParseUint(base, 10, 64); ok && err == nil && len(base) == 20 {
			out = append(out, checkpoint{name: ujCheckpoints + "/" + fi.Name, seq: v})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("meta: journal %s: list %s: %w", j.cfg.Where, ujCheckpoints, err)
	}
	slices.SortFunc(out, func(a, b checkpoint) int { return cmp.Compare(a.seq, b.seq) })
	return out, nil
}

// restoreNewer loads the newest checkpoint when it is past applied; need
// > 0 demands one at or past need.
func (j *ufsJournal) restoreNewer(ctx context.Context, applied, need uint64) error {
	cks, err := j.checkpoints(ctx)
	if err != nil {
		return err
	}
	if len(cks) == 0 || cks[len(cks)-1].seq <= applied {
		if need > 0 {
			return fmt.Errorf("meta: journal %s: the metastore is at entry %d but the log starts after %d and no checkpoint covers the gap: %w: %w",
				j.cfg.Where, applied, need, errJournalGap, syscall.EIO)
		}
		return nil
	}
	ck := cks[len(cks)-1]
	rc, err := j.cfg.Store.OpenRange(ctx, ck.name, 0, -1)
	if err != nil {
		return fmt.Errorf("meta: journal checkpoint %s in %s: %w", ck.name, j.cfg.Where, err)
	}
	if err := j.fsm.Restore(rc); err != nil {
		return fmt.Errorf("meta: journal checkpoint %s in %s: %w", ck.name, j.cfg.Where, err)
	}
	if got := j.fsm.lastApplied(); got != ck.seq {
		return fmt.Errorf("meta: journal checkpoint %s in %s holds entry %d, its name says %d: %w",
			ck.name, j.cfg.Where, got, ck.seq, syscall.EIO)
	}
	j.log.Info("loaded journal checkpoint", "checkpoint", ck.name)
	return nil
}

// propose appends an encoded command and waits for it to apply.
func (j *ufsJournal) propose(data []byte, timeout time.Duration) (any, error) {
	ctx := context.Background()
	return j.submit(ctx, data, timeout)(ctx)
}

// submit implements journal: the command joins the next log file.
func (j *ufsJournal) submit(ctx context.Context, data []byte, timeout time.Duration) func(context.Context) (any, error) {
	failed := func(err error) func(context.Context) (any, error) {
		return func(context.Context) (any, error) { return nil, err }
	}
	if !j.leading() {
		return failed(errNotLeading)
	}
	p := &proposal{data: data, done: make(chan proposalResult, 1)}
	t := time.NewTimer(timeout)
	select {
	case j.queue <- p:
	case <-t.C:
		return failed(fmt.Errorf("meta: journal queue full for %v: %w", timeout, syscall.ETIMEDOUT))
	case <-ctx.Done():
		t.Stop()
		return failed(ctx.Err())
	}
	j.kick()
	return func(ctx context.Context) (any, error) {
		defer t.Stop()
		select {
		case r := <-p.done:
			return r.resp, r.err
		case <-t.C:
			return nil, fmt.Errorf("meta: journal write not done within %v: %w", timeout, syscall.ETIMEDOUT)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// kick writes what is queued unless a writer is at it already: the first
// proposer writes, and everyone who arrived meanwhile joins its next file.
func (j *ufsJournal) kick() {
	j.kicks.Add(1)
	if j.writeMu.TryLock() {
		go j.writeLoop()
	}
}

// writeLoop writes the queued proposals, holding writeMu. A proposal
// queued while the lock was held found kick's TryLock failing and left
// its write to the holder, so after letting go the loop looks again when
// anyone kicked meanwhile (without that, such a proposal waited for the
// next one, or timed out when none came).
func (j *ufsJournal) writeLoop() {
	for {
		seen := j.kicks.Load()
		for j.writeQueued() {
		}
		j.writeMu.Unlock()
		if j.kicks.Load() == seen || !j.writeMu.TryLock() {
			return
		}
	}
}

// writeQueued writes one log file of the queued proposals; false when the
// queue was empty.
func (j *ufsJournal) writeQueued() bool {
	var batch []*proposal
	for len(batch) < ujMaxBatch {
		select {
		case p := <-j.queue:
			batch = append(batch, p)
			continue
		default:
		}
		break
	}
	if len(batch) == 0 {
		return false
	}
	fail := func(err error) bool {
		for _, p := range batch {
			p.done <- proposalResult{err: err}
		}
		return true
	}
	j.mu.Lock()
	leading, epoch := j.leadingOn, j.epoch
	j.mu.Unlock()
	if !leading {
		return fail(errNotLeading)
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultApplyTimeout)
	defer cancel()
	first := j.fsm.lastApplied() + 1
	last := first + uint64(len(batch)) - 1
	entries := make([][]byte, len(batch))
	for i, p := range batch {
		entries[i] = p.data
	}
	name := segmentName(first, last, epoch)
	if err := j.writeFile(ctx, name, encodeSegment(entries)); err != nil {
		// Whether the file landed is unknown: another leader replays
		// what is there.
		j.resign("log write failed")
		return fail(fmt.Errorf("%w: journal file %s in %s: %w", errNotLeading, name, j.cfg.Where, err))
	}
	top, err := j.maxEpoch(ctx)
	if err != nil || top > epoch {
		j.resign(fmt.Sprintf("fenced by epoch %d (err %v)", top, err))
		return fail(errNotLeading)
	}
	j.writes.Add(1)
	j.entries.Add(uint64(len(batch)))
	logs := make([]*raft.Log, len(batch))
	for i, e := range entries {
		logs[i] = entryLog(first+uint64(i), epoch, e)
	}
	results := j.fsm.ApplyBatch(logs)
	j.lastSeen.Store(max(j.lastSeen.Load(), last))
	for i, p := range batch {
		p.done <- proposalResult{resp: results[i]}
	}
	if j.sinceCkpt.Add(uint64(len(batch))) >= j.cfg.CheckpointEntries {
		j.sinceCkpt.Store(0)
		go j.checkpoint(epoch)
	}
	return true
}

// checkpoint stores the metastore in the journal folder and deletes the
// log files and older checkpoints it makes unnecessary.
func (j *ufsJournal) checkpoint(epoch uint64) {
	if !j.ckptMu.TryLock() {
		return
	}
	defer j.ckptMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*defaultApplyTimeout)
	defer cancel()
	if err := j.writeCheckpoint(ctx, epoch); err != nil {
		j.log.Warn("journal checkpoint failed", "err", err)
	}
}

func (j *ufsJournal) writeCheckpoint(ctx context.Context, epoch uint64) error {
	snap, err := j.fsm.Snapshot()
	if err != nil {
		return err
	}
	s := snap.(*fsmSnapshot)
	defer s.Release()
	seq := (&txn{tx: s.tx}).lastApplied()
	name := fmt.Sprintf("%s/%020d.ckpt", ujCheckpoints, seq)
	w, err := j.cfg.Store.Create(ctx, name, ufs.CreateOptions{Mode: 0o600, SizeHint: s.tx.Size()})
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", name, err)
	}
	if _, err := s.tx.WriteTo(w); err != nil {
		w.Abort()
		return fmt.Errorf("checkpoint %s: %w", name, err)
	}
	if _, err := w.Close(ctx); err != nil {
		return fmt.Errorf("checkpoint %s: %w", name, err)
	}
	// Only a leader that is still current compacts. A fenced one takes
	// its checkpoint back: the folder may have been formatted since.
	if top, err := j.maxEpoch(ctx); err != nil || top > epoch {
		if err == nil {
			if err = j.cfg.Store.Delete(ctx, name); err == nil {
				j.log.Info("fenced while writing a checkpoint; deleted it", "checkpoint", name, "epoch", epoch, "top", top)
			}
		}
		return err
	}
	segs, err := j.scanAll(ctx)
	if err != nil {
		return err
	}
	for _, sg := range segs {
		if sg.last <= seq {
			if err := j.cfg.Store.Delete(ctx, sg.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("compact %s: %w", sg.name, err)
			}
		}
	}
	cks, err := j.checkpoints(ctx)
	if err != nil {
		return err
	}
	for len(cks) > ujKeepCheckpoints {
		if err := j.cfg.Store.Delete(ctx, cks[0].name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("drop old checkpoint %s: %w", cks[0].name, err)
		}
		cks = cks[1:]
	}
	j.log.Info("journal checkpoint written", "checkpoint", name)
	return nil
}

// scanAll lists every log file, valid or not.
func (j *ufsJournal) scanAll(ctx context.Context) ([]segment, error) {
	var all []segment
	err := j.cfg.Store.List(ctx, ujLogs, func(fi ufs.FileInfo) error {
		if s, ok := parseSegment(fi.Name); ok {
			all = append(all, s)
		}
		return nil
	})
	return all, err
}

// leading implements journal.
func (j *ufsJournal) leading() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.leadingOn
}

// term implements journal: the epoch while leading.
func (j *ufsJournal) term() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.epoch
}

// leader implements journal: ZooKeeper's answer (ids are RPC addresses).
func (j *ufsJournal) leader() (string, string) {
	if j.leading() {
		return j.cfg.RPCAddr, j.cfg.RPCAddr
	}
	l, _, err := j.cfg.Elect.Leader()
	if err != nil {
		return "", ""
	}
	return l, l
}

// barrier implements journal: a leader replayed the journal before it
// said it leads.
func (j *ufsJournal) barrier(time.Duration) error {
	if !j.leading() {
		return errNotLeading
	}
	return nil
}

// verify implements journal: no later epoch has begun.
func (j *ufsJournal) verify() error {
	j.mu.Lock()
	leading, epoch := j.leadingOn, j.epoch
	j.mu.Unlock()
	if !leading {
		return errNotLeading
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultApplyTimeout)
	defer cancel()
	top, err := j.maxEpoch(ctx)
	if err != nil {
		return err
	}
	if top > epoch {
		j.resign(fmt.Sprintf("fenced by epoch %d", top))
		return errNotLeading
	}
	return nil
}

// lease implements journal: none; every read is confirmed (rounds are
// shared by concurrent reads).
func (j *ufsJournal) lease() time.Duration { return 0 }

// handOff implements journal: the stopping leader withdraws from the
// election in close, which lets the next candidate lead at once.
func (j *ufsJournal) handOff() error { return nil }

// fill implements journal.
func (j *ufsJournal) fill(st *RaftStats) {
	j.mu.Lock()
	leading, epoch := j.leadingOn, j.epoch
	j.mu.Unlock()
	st.State = "Follower"
	if leading {
		st.State = "Leader"
	}
	st.Term = epoch
	st.LastApplied = j.fsm.lastApplied()
	st.CommitIndex = max(j.lastSeen.Load(), st.LastApplied)
	st.LastIndex = st.CommitIndex
	if t := j.lastReplay.Load(); t != 0 && !leading {
		st.LastContact = time.Unix(0, t)
	}
	st.LogWrites = j.writes.Load()
	st.LogEntries = j.entries.Load()
}

// close implements journal: it leaves the election and stops.
func (j *ufsJournal) close() error {
	j.resign("stopping")
	close(j.stop)
	<-j.done
	j.writeMu.Lock() // wait for a write in progress
	j.writeMu.Unlock()
	j.ckptMu.Lock()
	j.ckptMu.Unlock()
	return errors.Join(j.cfg.Elect.Close(), j.cfg.Store.Close())
}

// errFormatChanged reports that the journal folder was formatted after
// this master's metastore was built from it.
var errFormatChanged = errors.New("the master must restart to rebuild its metastore from the folder")

// adoptFormat compares the folder's format with the one the metastore was
// built from: a metastore of an earlier format describes a journal that
// is gone, and is discarded, to be rebuilt from the folder. The folder
// is the authority: every master's metastore is derived from it.
func (j *ufsJournal) adoptFormat(ctx context.Context) error {
	now, err := readFolderFormat(ctx, j.cfg.Store, j.cfg.Where)
	if err != nil {
		return err
	}
	built, err := readMetastoreFormat(j.fsm.path)
	if err != nil {
		j.log.Warn("the metastore's format record is unreadable; rebuilding the metastore", "err", err)
		built = folderFormat{Token: "?"}
	}
	if built != now {
		if applied := j.fsm.lastApplied(); applied > 0 {
			j.log.Info("the journal folder was formatted since the metastore was built; rebuilding the metastore from the folder",
				"folder", now.String(), "metastore", built.String(), "lastApplied", applied)
			if err := j.fsm.discard(); err != nil {
				return err
			}
		}
		if err := writeMetastoreFormat(j.fsm.path, now); err != nil {
			return err
		}
	}
	j.built = now
	return nil
}

// checkFormat reads the folder's format; it fails with errFormatChanged
// when that is not the one the metastore was built from.
func (j *ufsJournal) checkFormat(ctx context.Context) (folderFormat, error) {
	now, err := readFolderFormat(ctx, j.cfg.Store, j.cfg.Where)
	if err != nil {
		return folderFormat{}, err
	}
	if now != j.built {
		return now, fmt.Errorf("meta: journal folder %s was formatted with %s, this master's metastore was built from %s: %w",
			j.cfg.Where, now, j.built, errFormatChanged)
	}
	return now, nil
}

// stopOnFormat stops this master after the folder was formatted under
// it: its metastore describes the erased journal, and only a restart
// (which rebuilds it, see adoptFormat) leaves that behind. Like a failed
// metastore write, it ends the process.
func (j *ufsJournal) stopOnFormat(err error) {
	j.resign("the journal folder was formatted")
	if fn := j.fatal.Load(); fn != nil {
		(*fn)(err)
		return
	}
	j.log.Error("the journal folder was formatted; stopping", "err", err)
	panic(err.Error())
}

// idle is what is left of run after stopOnFormat returned (tests only):
// the master neither tails nor leads, and passes on leadership until
// closed.
func (j *ufsJournal) idle() {
	for {
		select {
		case <-j.stop:
			return
		case ch := <-j.cfg.Elect.Changes():
			// A lone master would only be handed leadership again.
			if _, solo := j.cfg.Elect.(*soloElector); ch.Leading && !solo {
				j.cfg.Elect.Resign()
			}
		}
	}
}

// discard replaces the metastore's state with an empty one.
func (f *fsm) discard() error {
	tmp := f.path + ".empty"
	os.Remove(tmp)
	st, err := openStore(tmp, storeOpenTimeout)
	if err == nil {
		err = st.close()
	}
	if err == nil {
		err = f.swap(tmp)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("meta: discard metastore %s: %w", f.path, err)
	}
	f.epoch.Store(rand.Uint64())
	if f.onRestore != nil {
		f.onRestore()
	}
	return nil
}
