/** The clock probe's name in releases/: the prefix, then mktemp's 8 letters and digits. */
const CLOCK_PROBE_PREFIX = ".cutover-clock-probe.";
export const CLOCK_PROBE = /^\.cutover-clock-probe\.[A-Za-z0-9]{8}$/;

/**
 * Shell for the start of a listing a manifest is made from: the release directory's mtime (which
 * the manifest file then takes, see manifestWrite) is set to a time every change made after the
 * listing starts is newer than, so `find -newer MANIFEST` sees it on the next deploy.
 *
 * A touch alone is not enough: file times come from a clock that moves in steps (a jiffy, or a
 * second on some file systems), and a change in the step of the touch gets the same time, which
 * -newer skips. So the step is waited out: until a new file in the parent directory (a new inode
 * takes the step's time; one whose times were just read can take a finer one on newer kernels,
 * which says nothing of the step) is newer. The probes are made by mktemp (a new name, never
 * through a link or into a fifo someone left), each removed once looked at (a run killed meanwhile
 * leaves one at most: a regular file so named is the next run's leftover to remove, see
 * CLOCK_PROBE); where none can be made, a second is waited instead (a step of up to a second).
 * At most ~3 s (a 2 s step), typically a few ms.
 */
export const STAMP_LISTING_START = `stamp_listing_start() {
  touch -c -m -- .
  for pause in 0.002 0.004 0.008 0.016 0.032 0.064 0.128 0.256 0.512 1 1; do
    sleep "$pause" 2>/dev/null || sleep 1
    probe=$(mktemp ../${CLOCK_PROBE_PREFIX}XXXXXXXX 2>/dev/null) || { sleep 1; break; }
    newer=$(find "$probe" -newer . -print 2>/dev/null) || newer=
    rm -f -- "$probe"
    [ -z "$newer" ] || break
  done
}`;
