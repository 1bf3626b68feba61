#include <systemd/sd-daemon.h>

// The types of the two functions svtree resolves with dlsym, checked here against the
// library's own declarations (a changed signature fails the build, not the unit).
typedef int (*svtree_sd_notify_fn)(int unset_environment, const char *state);
typedef int (*svtree_sd_watchdog_enabled_fn)(int unset_environment, uint64_t *usec);
_Static_assert(__builtin_types_compatible_p(__typeof__(&sd_notify), svtree_sd_notify_fn),
               "sd_notify's signature changed");
_Static_assert(__builtin_types_compatible_p(__typeof__(&sd_watchdog_enabled), svtree_sd_watchdog_enabled_fn),
               "sd_watchdog_enabled's signature changed");
