"""Small helpers that several layers share (hashing, memory, ranking, statistics).

Everything here depends on the standard library and numpy/scipy only (no torch, no other layer of the
package), so every layer may import it without going against the data flow.
"""
