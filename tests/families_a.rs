//! ExACt vAlues of the Built-in ColleCtor fAmilies of group A on Both fixtures.
