//! RFC 6962 (RFC 9162 §2.1) Merkle tree hashing, the hashing C2SP `tlog-tiles` uses: SHA-256,
//! a leaf hashed as `SHA-256(0x00 || entry)`, an inner node as `SHA-256(0x01 || left ||
//! right)`, and a tree of `n` leaves split at the largest power of two below `n`.
//!
//! Proofs work on any [`HashReader`], which answers "the hash of the perfect subtree of height
//! `h` at index `i`": the tile reader answers it from tiles, the tests from a list of leaves.
//! Nothing here allocates more than a proof's length.

use sha2::{Digest, Sha256};

/// A SHA-256 hash of a leaf or a subtree.
pub type TreeHash = [u8; 32];

/// The hash of a log entry.
pub fn leaf_hash(entry: &[u8]) -> TreeHash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    hasher.finalize().into()
}

/// The hash of an inner node.
pub fn node_hash(left: &TreeHash, right: &TreeHash) -> TreeHash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The hash of the empty tree.
pub fn empty_hash() -> TreeHash {
    Sha256::digest([]).into()
}

/// Why a hash could not be read or a proof did not check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("{0}")]
    Unreadable(String),
    #[error("the proof has {got} hashes where {want} are needed")]
    WrongLength { got: usize, want: usize },
    #[error("the proof does not lead to the tree's root hash")]
    Mismatch,
    #[error("index {index} is not inside a tree of {size} entries")]
    OutOfRange { index: u64, size: u64 },
}

/// Reads stored hashes: the root of the perfect subtree of height `height` (covering `2^height`
/// leaves) whose leaves start at `index << height`.
pub trait HashReader {
    fn subtree(&self, height: u32, index: u64) -> Result<TreeHash, ProofError>;
}

/// The hash of leaves `[lo, hi)`, as RFC 6962's MTH defines it for that range when it is the
/// right part of a split (ranges used by proofs always are): the largest aligned perfect
/// subtrees from the left, then the rest.
pub fn range_hash(reader: &impl HashReader, lo: u64, hi: u64) -> Result<TreeHash, ProofError> {
    if lo == hi {
        return Ok(empty_hash());
    }
    // The perfect subtrees that make up [lo, hi), left to right, folded from the right.
    let mut parts = Vec::new();
    let mut start = lo;
    while start < hi {
        // The largest power of two that both aligns with `start` and fits before `hi`.
        let mut height = if start == 0 {
            63
        } else {
            start.trailing_zeros()
        };
        while height > 0 && (1u64 << height.min(63)) > hi - start {
            height -= 1;
        }
        parts.push(reader.subtree(height, start >> height)?);
        start += 1u64 << height;
    }
    let mut hash = parts.pop().expect("the range is not empty");
    while let Some(left) = parts.pop() {
        hash = node_hash(&left, &hash);
    }
    Ok(hash)
}

/// The root hash of the tree of the first `size` leaves.
pub fn tree_hash(reader: &impl HashReader, size: u64) -> Result<TreeHash, ProofError> {
    range_hash(reader, 0, size)
}

/// The largest power of two strictly below `n` (for `n >= 2`).
fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// RFC 9162 §2.1.3.1: the inclusion proof of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof(
    reader: &impl HashReader,
    index: u64,
    size: u64,
) -> Result<Vec<TreeHash>, ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(reader, index, 0, size, &mut proof)?;
    Ok(proof)
}

/// PATH(m, D[lo:hi]), with `m` relative to `lo`; appends the proof from the leaf up.
fn path(
    reader: &impl HashReader,
    m: u64,
    lo: u64,
    hi: u64,
    proof: &mut Vec<TreeHash>,
) -> Result<(), ProofError> {
    let n = hi - lo;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(reader, m, lo, lo + k, proof)?;
        proof.push(range_hash(reader, lo + k, hi)?);
    } else {
        path(reader, m - k, lo + k, hi, proof)?;
        proof.push(range_hash(reader, lo, lo + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.1: the consistency proof between the trees of `old` and `new` leaves.
pub fn consistency_proof(
    reader: &impl HashReader,
    old: u64,
    new: u64,
) -> Result<Vec<TreeHash>, ProofError> {
    if old > new {
        return Err(ProofError::OutOfRange {
            index: old,
            size: new,
        });
    }
    let mut proof = Vec::new();
    if old > 0 && old < new {
        subproof(reader, old, 0, new, true, &mut proof)?;
    }
    Ok(proof)
}

/// SUBPROOF(m, D[lo:hi], b).
fn subproof(
    reader: &impl HashReader,
    m: u64,
    lo: u64,
    hi: u64,
    whole: bool,
    proof: &mut Vec<TreeHash>,
) -> Result<(), ProofError> {
    let n = hi - lo;
    if m == n {
        if !whole {
            proof.push(range_hash(reader, lo, hi)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(reader, m, lo, lo + k, whole, proof)?;
        proof.push(range_hash(reader, lo + k, hi)?);
    } else {
        subproof(reader, m - k, lo + k, hi, false, proof)?;
        proof.push(range_hash(reader, lo, lo + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.3.2: checks that `leaf` is entry `index` of the tree of `size` leaves whose
/// root hash is `root`.
pub fn verify_inclusion(
    leaf: &TreeHash,
    index: u64,
    size: u64,
    proof: &[TreeHash],
    root: &TreeHash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange { index, size });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want: proof.len() - 1,
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want: proof.len() + 1,
        });
    }
    if r == *root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// RFC 9162 §2.1.4.2: checks that the tree of `new` leaves with root `new_root` extends the tree
/// of `old` leaves with root `old_root`.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &TreeHash,
    new_root: &TreeHash,
    proof: &[TreeHash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::OutOfRange {
            index: old,
            size: new,
        });
    }
    if old == new {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else if !proof.is_empty() {
            Err(ProofError::WrongLength {
                got: proof.len(),
                want: 0,
            })
        } else {
            Err(ProofError::Mismatch)
        };
    }
    if old == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength {
                got: proof.len(),
                want: 0,
            })
        };
    }
    // If `old` is a power of two, the old root is the proof's implicit first hash.
    let mut hashes: Vec<TreeHash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        hashes.push(*old_root);
    }
    hashes.extend_from_slice(proof);
    let Some((first, rest)) = hashes.split_first() else {
        return Err(ProofError::WrongLength { got: 0, want: 1 });
    };
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want: proof.len() - 1,
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want: proof.len() + 1,
        });
    }
    if fr == *old_root && sr == *new_root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Leaves in memory; subtree hashes computed from them the slow way.
    struct Leaves(Vec<TreeHash>);

    impl HashReader for Leaves {
        fn subtree(&self, height: u32, index: u64) -> Result<TreeHash, ProofError> {
            let start = (index << height) as usize;
            let end = start + (1usize << height);
            if end > self.0.len() {
                return Err(ProofError::Unreadable(format!("{height}/{index}")));
            }
            Ok(mth(&self.0[start..end]))
        }
    }

    /// RFC 6962's MTH, written as the RFC defines it.
    fn mth(leaves: &[TreeHash]) -> TreeHash {
        match leaves.len() {
            0 => empty_hash(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Leaves {
        Leaves(
            (0..n)
                .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
                .collect(),
        )
    }

    #[test]
    fn the_empty_tree_and_a_known_leaf_hash() {
        // RFC 6962 test vectors (as in certificate-transparency-go): the empty tree and the
        // hash of an empty leaf.
        assert_eq!(
            data_encoding::HEXLOWER.encode(&empty_hash()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            data_encoding::HEXLOWER.encode(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn tree_hashes_match_the_rfc_definition() {
        let all = leaves(70);
        for n in 0..=70 {
            assert_eq!(tree_hash(&all, n as u64).unwrap(), mth(&all.0[..n]), "{n}");
        }
    }

    #[test]
    fn inclusion_proofs_verify_and_reject_anything_else() {
        let all = leaves(40);
        for size in 1..=40u64 {
            let root = tree_hash(&all, size).unwrap();
            for index in 0..size {
                let proof = inclusion_proof(&all, index, size).unwrap();
                let leaf = all.0[index as usize];
                verify_inclusion(&leaf, index, size, &proof, &root).unwrap();
                let other = leaf_hash(b"another entry");
                assert!(verify_inclusion(&other, index, size, &proof, &root).is_err());
                if size > 1 {
                    let wrong_index = (index + 1) % size;
                    if all.0[wrong_index as usize] != leaf {
                        assert!(verify_inclusion(&leaf, wrong_index, size, &proof, &root).is_err());
                    }
                    assert!(
                        verify_inclusion(&leaf, index, size, &proof[..proof.len() - 1], &root)
                            .is_err()
                    );
                }
            }
        }
    }

    #[test]
    fn consistency_proofs_verify_and_reject_a_fork() {
        let all = leaves(40);
        let mut forked = leaves(40);
        forked.0[3] = leaf_hash(b"rewritten");
        for new in 0..=40u64 {
            let new_root = tree_hash(&all, new).unwrap();
            for old in 0..=new {
                let old_root = tree_hash(&all, old).unwrap();
                let proof = consistency_proof(&all, old, new).unwrap();
                verify_consistency(old, new, &old_root, &new_root, &proof).unwrap();
                if old > 3 && old < new {
                    // The fork rewrote entry 3: its old tree is not a prefix of this one.
                    let forked_root = tree_hash(&forked, old).unwrap();
                    assert_eq!(
                        verify_consistency(old, new, &forked_root, &new_root, &proof),
                        Err(ProofError::Mismatch),
                        "{old} -> {new}"
                    );
                }
            }
        }
    }
}
