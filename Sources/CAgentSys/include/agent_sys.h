// Linux calls stacyvm-agent needs that Swift cannot make directly (prctl is variadic).
#pragma once

/// Makes the calling process a child subreaper: orphaned descendants are re-parented to it
/// instead of the pid namespace's init, so an exec's whole process tree stays findable.
int stacy_set_child_subreaper(void);
