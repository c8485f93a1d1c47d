package blockstore

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"syscall"
	"time"
)

// Defaults applied by Open to zero fields of Config and TierConfig; they match
// Alluxio's.
const (
	// DefaultPageSize is the page size when Config.PageSize is zero.
	DefaultPageSize = 1 << 20
	// DefaultDataFolder is the sub-directory of each tier dir used when
	// Config.DataFolder is empty.
	DefaultDataFolder = "alluxioworker"
	// DefaultHighWatermark is the used fraction of a tier dir that starts
	// eviction when TierConfig.High is zero.
	DefaultHighWatermark = 0.95
	// DefaultLowWatermark is the used fraction of a tier dir that eviction
	// stops at when TierConfig.Low is zero.
	DefaultLowWatermark = 0.7
	// DefaultPrefetchPages is how many pages ahead of a sequential reader are
	// fetched in the background when Config.PrefetchPages is zero: 64 MiB
	// at the default page size, four runs of 16 MiB (one Source call each).
	DefaultPrefetchPages = 64
	// DefaultProbeInterval is how often failed tier dirs are probed when
	// Config.ProbeInterval is zero.
	DefaultProbeInterval = time.Minute
	// DefaultLRFUStepFactor is Alluxio's
	// alluxio.worker.block.annotator.lrfu.step.factor.
	DefaultLRFUStepFactor = 0.25
	// DefaultLRFUAttenuationFactor is Alluxio's
	// alluxio.worker.block.annotator.lrfu.attenuation.factor.
	DefaultLRFUAttenuationFactor = 2.0
)

// Eviction policies for Config.Evictor.
const (
	// EvictorLRU evicts the least recently used page first.
	EvictorLRU = "LRU"
	// EvictorLRFU evicts the page with the lowest combined recency and
	// frequency (CRF) score first, as Alluxio's LRFUAnnotator.
	EvictorLRFU = "LRFU"
)

// Checksum verification modes for Config.VerifyReads.
const (
	// VerifyAuto verifies pages served from tiers whose alias is not MEM.
	VerifyAuto = "auto"
	// VerifyAlways verifies pages served from every tier.
	VerifyAlways = "always"
	// VerifyNever trusts cached pages; recovery still verifies them.
	VerifyNever = "never"
)

// pageAlign is the granularity page sizes must respect so that punching a
// page's hole frees whole file-system blocks.
const pageAlign = 4096

// Property keys named in configuration errors.
const (
	propLevels     = "alluxio.worker.tieredstore.levels"
	propPageSize   = "alluxio.worker.page.store.page.size"
	propDataFolder = "alluxio.worker.data.folder"
	propEvictor    = "alluxio.worker.block.annotator.class"
	propLRFUStep   = "alluxio.worker.block.annotator.lrfu.step.factor"
	propLRFUAtten  = "alluxio.worker.block.annotator.lrfu.attenuation.factor"
	// propVerify names the setting in errors; Alluxio has no such property.
	propVerify = "blockstore.Config.VerifyReads"
)

func propTier(level int, suffix string) string {
	return fmt.Sprintf("alluxio.worker.tieredstore.level%d.%s", level, suffix)
}

// TierConfig describes one tier level: its directories, one quota per
// directory, and the watermarks that drive eviction.
type TierConfig struct {
	// Alias names the storage class, e.g. "MEM", "SSD", "HDD".
	Alias string
	// Dirs are the directories of the level (they must exist and be writable).
	Dirs []string
	// Quotas holds the capacity in bytes of each directory, index for index.
	Quotas []int64
	// High is the used fraction of a directory above which eviction starts
	// (0 means DefaultHighWatermark).
	High float64
	// Low is the used fraction eviction brings a directory down to
	// (0 means DefaultLowWatermark).
	Low float64
	// MediumTypes optionally holds each directory's medium type
	// (alluxio.worker.tieredstore.levelN.dirs.mediumtype), index for index;
	// empty means the alias. It is reported in TierStats only.
	MediumTypes []string
}

// Config configures a Store.
type Config struct {
	// Tiers are the tier levels, fastest first (level 0 is Tiers[0]). New
	// file versions go to the first level that can hold them; files move
	// down when a dir passes its high watermark and up on ReadCachePromote.
	Tiers []TierConfig
	// PageSize is the size of a cached page in bytes, a multiple of 4096
	// (0 means DefaultPageSize).
	PageSize int64
	// DataFolder is the sub-directory of each tier dir the store owns
	// (empty means DefaultDataFolder). Open recovers the cached files it
	// holds and removes everything else in it. Leading and trailing slashes
	// are ignored, as in Alluxio's "/alluxioworker/".
	DataFolder string
	// PrefetchPages is how many pages ahead of a sequential reader to fetch in
	// the background: 0 means DefaultPrefetchPages, negative disables it.
	// The pages are fetched in runs of up to half of it (and at most 16
	// MiB), one Source call per run.
	PrefetchPages int
	// Evictor is the eviction policy: EvictorLRU (the default when empty) or
	// EvictorLRFU. Alluxio's class names (...annotator.LRUAnnotator,
	// ...annotator.LRFUAnnotator) are accepted too.
	Evictor string
	// LRFUStepFactor is the LRFU step factor in (0, 1]
	// (0 means DefaultLRFUStepFactor): the closer to 0, the more LRFU
	// behaves like LFU; at 1 it behaves like LRU.
	LRFUStepFactor float64
	// LRFUAttenuationFactor is the LRFU attenuation factor, above 1
	// (0 means DefaultLRFUAttenuationFactor).
	LRFUAttenuationFactor float64
	// VerifyReads says when ReadAt and OpenWhole check cached pages against
	// their crc32c: VerifyAuto (the default when empty), VerifyAlways or
	// VerifyNever.
	VerifyReads string
	// ProbeInterval is how often failed tier dirs are probed to see whether
	// they work again (0 means DefaultProbeInterval).
	ProbeInterval time.Duration
	// Logger receives the store's logs (nil means slog.Default()).
	Logger *slog.Logger
}

func configError(prop, format string, args ...any) error {
	return fmt.Errorf("blockstore: %s: %s: %w", prop, fmt.Sprintf(format, args...), syscall.EINVAL)
}

// Check reports what Open would refuse in cfg before it looks at any tier
// dir: a bad value, with its property named.
func (cfg Config) Check() error {
	_, err := cfg.normalize()
	return err
}

// normalize validates cfg and returns a copy with defaults filled in.
func (cfg Config) normalize() (Config, error) {
	c := cfg
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.PageSize < pageAlign || c.PageSize%pageAlign != 0 {
		return c, configError(propPageSize, "page size %d is not a positive multiple of %d", c.PageSize, pageAlign)
	}
	if c.PageSize > math.MaxInt32 {
		return c, configError(propPageSize, "page size %d is too large", c.PageSize)
	}
	folder := strings.Trim(c.DataFolder, "/")
	if folder == "" && c.DataFolder == "" {
		folder = DefaultDataFolder
	}
	// Open removes what it does not recognise in the folder, so it must
	// never resolve to the tier dir itself or anything outside it.
	if folder == "" || folder == "." || folder == ".." || strings.Contains(folder, "/") {
		return c, configError(propDataFolder, "%q is not a single directory name", c.DataFolder)
	}
	c.DataFolder = folder
	if c.PrefetchPages == 0 {
		c.PrefetchPages = DefaultPrefetchPages
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch ev := c.Evictor; {
	case ev == "" || strings.EqualFold(ev, EvictorLRU) || strings.HasSuffix(ev, ".LRUAnnotator"):
		c.Evictor = EvictorLRU
	case strings.EqualFold(ev, EvictorLRFU) || strings.HasSuffix(ev, ".LRFUAnnotator"):
		c.Evictor = EvictorLRFU
	default:
		return c, configError(propEvictor, "unknown eviction policy %q (want LRU or LRFU)", ev)
	}
	if c.LRFUStepFactor == 0 {
		c.LRFUStepFactor = DefaultLRFUStepFactor
	}
	if !(c.LRFUStepFactor > 0 && c.LRFUStepFactor <= 1) {
		return c, configError(propLRFUStep, "%v is not in (0, 1]", c.LRFUStepFactor)
	}
	if c.LRFUAttenuationFactor == 0 {
		c.LRFUAttenuationFactor = DefaultLRFUAttenuationFactor
	}
	if !(c.LRFUAttenuationFactor > 1) || math.IsInf(c.LRFUAttenuationFactor, 0) {
		return c, configError(propLRFUAtten, "%v is not above 1", c.LRFUAttenuationFactor)
	}
	switch v := strings.ToLower(c.VerifyReads); v {
	case "":
		c.VerifyReads = VerifyAuto
	case VerifyAuto, VerifyAlways, VerifyNever:
		c.VerifyReads = v
	default:
		return c, configError(propVerify, "%q is not auto, always or never", c.VerifyReads)
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = DefaultProbeInterval
	}
	if c.ProbeInterval < 0 {
		return c, configError("blockstore.Config.ProbeInterval", "%v is negative", c.ProbeInterval)
	}
	if len(c.Tiers) == 0 {
		return c, configError(propLevels, "no tier configured")
	}
	c.Tiers = make([]TierConfig, len(cfg.Tiers))
	seen := map[string]bool{}
	for level, t := range cfg.Tiers {
		if t.Alias == "" {
			return c, configError(propTier(level, "alias"), "empty alias")
		}
		if len(t.Dirs) == 0 {
			return c, configError(propTier(level, "dirs.path"), "no directory")
		}
		if len(t.Quotas) != len(t.Dirs) {
			return c, configError(propTier(level, "dirs.quota"), "%d quotas for %d dirs", len(t.Quotas), len(t.Dirs))
		}
		for i, dir := range t.Dirs {
			if dir == "" {
				return c, configError(propTier(level, "dirs.path"), "empty directory name")
			}
			if seen[dir] {
				return c, configError(propTier(level, "dirs.path"), "directory %s listed twice", dir)
			}
			seen[dir] = true
			if t.Quotas[i] <= 0 {
				return c, configError(propTier(level, "dirs.quota"), "quota %d of %s is not positive", t.Quotas[i], dir)
			}
		}
		if t.High == 0 {
			t.High = DefaultHighWatermark
		}
		if t.Low == 0 {
			t.Low = DefaultLowWatermark
		}
		if !(t.High > 0 && t.High <= 1) {
			return c, configError(propTier(level, "watermark.high.ratio"), "%v is not in (0, 1]", t.High)
		}
		if !(t.Low > 0 && t.Low <= t.High) {
			return c, configError(propTier(level, "watermark.low.ratio"), "%v is not in (0, high=%v]", t.Low, t.High)
		}
		if len(t.MediumTypes) != 0 && len(t.MediumTypes) != len(t.Dirs) {
			return c, configError(propTier(level, "dirs.mediumtype"), "%d medium types for %d dirs", len(t.MediumTypes), len(t.Dirs))
		}
		t.Dirs = append([]string(nil), t.Dirs...)
		t.Quotas = append([]int64(nil), t.Quotas...)
		t.MediumTypes = append([]string(nil), t.MediumTypes...)
		c.Tiers[level] = t
	}
	return c, nil
}
