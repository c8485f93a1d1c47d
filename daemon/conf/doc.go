// Package conf builds the one typed configuration of an Alluxio process.
//
// Load reads, lowest precedence first: the embedded defaults (enough for
// `alluxio local` with no file at all), alluxio-env.sh in the conf dir
// (parsed, never executed: the Alluxio 1.x variables such as
// ALLUXIO_UNDERFS_ADDRESS and the -Dkey=value pairs of ALLUXIO_JAVA_OPTS),
// alluxio-site.properties in the conf dir (Java properties syntax), the
// process environment (the same variables), and the command-line flags.
// Values may refer to other keys as ${key}. Every known property is then
// validated against its kind; a malformed value fails Load with an error
// naming the key, the value and where it came from, while an unknown key in
// Alluxio's namespaces is only a warning.
//
// The result, *Config, is read-only and passed down explicitly; its typed
// getters never fail on values because Load checked them. Credentials (see
// IsSecret) never appear in its errors or warnings, and Masked hides them
// for display.
package conf
