"""The project's own random generator: the same seed gives the same day on CPython and MicroPython."""
_MASK32 = 0xFFFFFFFF


class Rng:
    """xorshift32: small, integer-only, and identical on every Python the simulation runs on."""

    def __init__(self, seed):
        s = (seed * 2654435761 + 0x9E3779B9) & _MASK32
        self.state = s or 0x6D2B79F5

    def next32(self):
        x = self.state
        x ^= (x << 13) & _MASK32
        x ^= x >> 17
        x ^= (x << 5) & _MASK32
        self.state = x
        return x

    def below(self, n):
        """An integer in 0..n-1."""
        return self.next32() % n

    def between(self, lo, hi):
        """An integer in lo..hi inclusive."""
        return lo + self.below(hi - lo + 1)

    def chance(self, per_mille):
        return self.below(1000) < per_mille

    def exp_ms(self, mean_ms):
        """An exponentially distributed interval, integer arithmetic only (inverse CDF by table)."""
        u = self.below(1 << 16) + 1  # 1..65536
        # -ln(u / 65536) * 1024 by bit length plus a linear correction: plenty for arrival times
        n = 0
        v = u
        while v < (1 << 16):
            v <<= 1
            n += 1
        frac = (v - (1 << 16)) * 1024 >> 16  # mantissa part 0..1023 of log2
        log2_1024 = n * 1024 - frac  # -log2(u/65536) * 1024, approx
        return mean_ms * log2_1024 * 710 // (1024 * 1024)  # * ln 2 (710/1024)
