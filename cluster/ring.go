package cluster

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
)

// DefaultVirtualNodes is the number of ring points per member when none
// is given; it matches alluxio.worker.membership.virtual.nodes. With 160
// points each member's share of keys is within a few percent of 1/N.
const DefaultVirtualNodes = 160

// MaxVirtualNodes bounds the points per member (and so a ring's memory).
const MaxVirtualNodes = 4096

// Ring is an immutable consistent-hash ring over a set of members. It is
// safe for concurrent use. The zero value and a nil *Ring are empty rings.
type Ring struct {
	members []Member // sorted by Name, names distinct
	hashes  []uint64 // point positions, ascending
	owners  []int32  // owners[i] indexes members for hashes[i]
	vnodes  int
	version uint64
}

// NewRing builds a ring over members with vnodes points each (vnodes <= 0
// means DefaultVirtualNodes; above MaxVirtualNodes is clamped). Placement
// depends only on the members' names and vnodes, so every process that
// sees the same names computes the same homes. Of members with the same
// name, the one with the latest StartTime is kept. Members are not
// validated: a client may build a ring from addresses alone.
func NewRing(members []Member, vnodes int) *Ring {
	if vnodes <= 0 {
		vnodes = DefaultVirtualNodes
	}
	vnodes = min(vnodes, MaxVirtualNodes)
	ms := slices.Clone(members)
	// Sort so that the member kept for a duplicated name does not depend
	// on the input order.
	slices.SortFunc(ms, func(a, b Member) int {
		return cmp.Or(
			cmp.Compare(a.Name, b.Name),
			cmp.Compare(b.StartTime, a.StartTime),
			cmp.Compare(a.RPCAddr, b.RPCAddr),
			cmp.Compare(a.Gossip, b.Gossip),
			cmp.Compare(a.WebAddr, b.WebAddr),
		)
	})
	ms = slices.CompactFunc(ms, func(a, b Member) bool { return a.Name == b.Name })

	r := &Ring{members: ms, vnodes: vnodes}
	type point struct {
		hash  uint64
		owner int32
	}
	pts := make([]point, 0, len(ms)*vnodes)
	var buf []byte
	for i, m := range ms {
		for v := range vnodes {
			buf = append(append(append(buf[:0], m.Name...), '#'), strconv.Itoa(v)...)
			pts = append(pts, point{hashBytes(buf), int32(i)})
		}
	}
	// Ties (astronomically rare) go to the lower name, the same everywhere.
	slices.SortFunc(pts, func(a, b point) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.owner, b.owner))
	})
	r.hashes = make([]uint64, len(pts))
	r.owners = make([]int32, len(pts))
	for i, p := range pts {
		r.hashes[i], r.owners[i] = p.hash, p.owner
	}
	r.version = ringVersion(ms, vnodes)
	return r
}

// ringVersion hashes everything a ring is built from, so that two rings
// with the same version place keys alike and list the same members.
func ringVersion(ms []Member, vnodes int) uint64 {
	h := fnv.New64a()
	var n [8]byte
	putInt := func(v int64) {
		binary.LittleEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	putStr := func(s string) {
		putInt(int64(len(s)))
		h.Write([]byte(s))
	}
	putInt(int64(vnodes))
	for _, m := range ms {
		putStr(m.Name)
		putStr(m.RPCAddr)
		putStr(m.WebAddr)
		putStr(m.Gossip)
		putInt(m.StartTime)
	}
	return mix64(h.Sum64())
}

// Members returns a copy of the ring's members, sorted by Name.
func (r *Ring) Members() []Member {
	if r == nil {
		return nil
	}
	return slices.Clone(r.members)
}

// Len returns the number of members.
func (r *Ring) Len() int {
	if r == nil {
		return 0
	}
	return len(r.members)
}

// VirtualNodes returns the number of points per member, which a client
// needs to build the same ring from a member list.
func (r *Ring) VirtualNodes() int {
	if r == nil || r.vnodes == 0 {
		return DefaultVirtualNodes
	}
	return r.vnodes
}

// Version identifies the ring's contents: rings built from the same
// members (all fields, so a restarted member counts as a change) and
// virtual nodes have the same version, and different ones almost surely
// differ.
func (r *Ring) Version() uint64 {
	if r == nil {
		return 0
	}
	return r.version
}

// Home returns the member that owns key; false when the ring is empty.
func (r *Ring) Home(key uint64) (Member, bool) {
	if r.Len() == 0 {
		return Member{}, false
	}
	return r.members[r.owners[r.search(key)]], true
}

// Successors returns up to n distinct members in ring order starting at
// key's home: [home, next, ...]. It is the fail-over order: when the home
// leaves, the next member becomes the home of key. It returns nil when the
// ring is empty or n <= 0, and every member when n >= Len.
func (r *Ring) Successors(key uint64, n int) []Member {
	if r.Len() == 0 || n <= 0 {
		return nil
	}
	n = min(n, len(r.members))
	out := make([]Member, 0, n)
	seen := make([]bool, len(r.members))
	for i, p := r.search(key), 0; p < len(r.hashes) && len(out) < n; i, p = (i+1)%len(r.hashes), p+1 {
		o := r.owners[i]
		if !seen[o] {
			seen[o] = true
			out = append(out, r.members[o])
		}
	}
	return out
}

// search returns the index of the first point at or after key, wrapping
// to 0 past the last point. The ring must not be empty.
func (r *Ring) search(key uint64) int {
	i := sort.Search(len(r.hashes), func(i int) bool { return r.hashes[i] >= key })
	if i == len(r.hashes) {
		i = 0
	}
	return i
}

// BlockKey returns the ring key of block index block of file fileID. It
// is a fixed, well-mixed function, the same in every process: distinct
// blocks of one file never share a key, and consecutive blocks land far
// apart on the ring.
func BlockKey(fileID uint64, block int64) uint64 {
	return mix64(mix64(fileID+0x9e3779b97f4a7c15) ^ (uint64(block) + 0xd1b54a32d192ed03))
}

// hashBytes places a virtual node: 64-bit FNV-1a, whose high bits mix
// poorly for short similar strings, followed by a finalizer that spreads
// every input bit over the whole word.
func hashBytes(b []byte) uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for _, c := range b {
		h ^= uint64(c)
		h *= prime64
	}
	return mix64(h)
}

// mix64 is the SplitMix64 finalizer, a bijection on uint64 with full
// avalanche.
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}
