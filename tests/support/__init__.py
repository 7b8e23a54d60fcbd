"""Support code the tests share (builders, independent recomputations); no tests here."""
