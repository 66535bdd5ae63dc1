//! `pixgate migrate` against a bucket laid out as the old Lambda wrote it ([`bucket`]): in
//! process into disk and S3 destinations ([`in_process`]), and through the real binary,
//! interrupted and resumed, with its exit codes ([`binary`]).

mod binary;
mod bucket;
mod in_process;
