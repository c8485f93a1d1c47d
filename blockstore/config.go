package blockstore

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"syscall"
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
	// fetched in the background when Config.PrefetchPages is zero.
	DefaultPrefetchPages = 4
)

// pageAlign is the granularity page sizes must respect so that punching a
// page's hole frees whole file-system blocks.
const pageAlign = 4096

// Property keys named in configuration errors.
const (
	propLevels     = "alluxio.worker.tieredstore.levels"
	propPageSize   = "alluxio.worker.page.store.page.size"
	propDataFolder = "alluxio.worker.data.folder"
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
}

// Config configures a Store.
type Config struct {
	// Tiers are the tier levels, fastest first. Only level 0 stores pages now.
	Tiers []TierConfig
	// PageSize is the size of a cached page in bytes, a multiple of 4096
	// (0 means DefaultPageSize).
	PageSize int64
	// DataFolder is the sub-directory of each tier dir the store owns; it is
	// emptied by Open (empty means DefaultDataFolder). Leading and trailing
	// slashes are ignored, as in Alluxio's "/alluxioworker/".
	DataFolder string
	// PrefetchPages is how many pages ahead of a sequential reader to fetch in
	// the background: 0 means DefaultPrefetchPages, negative disables it.
	PrefetchPages int
	// Logger receives the store's logs (nil means slog.Default()).
	Logger *slog.Logger
}

func configError(prop, format string, args ...any) error {
	return fmt.Errorf("blockstore: %s: %s: %w", prop, fmt.Sprintf(format, args...), syscall.EINVAL)
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
	// The folder is emptied at Open, so it must never resolve to the tier dir
	// itself or anything outside it.
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
		t.Dirs = append([]string(nil), t.Dirs...)
		t.Quotas = append([]int64(nil), t.Quotas...)
		c.Tiers[level] = t
	}
	return c, nil
}
