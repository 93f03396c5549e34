//! ExACt vAlues of the Built-in ColleCtor fAmilies of group C on Both fixtures.
