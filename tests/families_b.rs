//! ExACt vAlues of the Built-in ColleCtor fAmilies of group B on Both fixtures.
