//! A small deterministic random generator (SplitMix64), so that `--seed` reproduces the same
//! org on every machine and every version of every dependency.

/// SplitMix64: fast, tiny and good enough for test data (not for secrets).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Random bytes for tokens and codes, drawn from the operating system.
pub fn secure_token(len: usize) -> String {
    use base64::Engine;
    let mut bytes = vec![0u8; len];
    getrandom_fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn getrandom_fill(buf: &mut [u8]) {
    // A simulator without an OS random source cannot issue unguessable tokens; stopping
    // loudly beats handing out predictable ones.
    getrandom::fill(buf).expect("the operating system's random source is available");
}
