//! The multipart reader, driven as the upload route drives it: a `multipart/form-data` body
//! with a fixed boundary under small limits, delivered in chunks whose size the input picks
//! (boundaries split across chunks are where stream parsers break). Besides "no panic, no
//! hang", every result must respect the limits and every kept file name must be clean.

#![no_main]

use std::cell::RefCell;
use std::convert::Infallible;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pixgate::request::read_upload_form;
use pixgate_fuzz::{BOUNDARY, FORM_LIMITS};

thread_local! {
    // Built once per process: a runtime per input would dominate the run time.
    static RUNTIME: RefCell<tokio::runtime::Runtime> = RefCell::new(
        tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime"),
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    // Low 7 bits: chunk size 1..=128; top bit: whether Content-Length is declared.
    let chunk = usize::from(control & 0x7f) + 1;
    let mut headers = HeaderMap::new();
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).expect("a valid header"),
    );
    if control & 0x80 != 0 {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let chunks: Vec<Result<Bytes, Infallible>> = body
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let body = Body::from_stream(futures_util::stream::iter(chunks));

    let result = RUNTIME.with(|rt| {
        rt.borrow()
            .block_on(read_upload_form(&headers, body, FORM_LIMITS))
    });
    let Ok(form) = result else {
        return;
    };
    assert!(!form.files.is_empty(), "a form without files was accepted");
    assert!(form.files.len() <= FORM_LIMITS.max_files);
    for (i, file) in form.files.iter().enumerate() {
        assert_eq!(file.index, i);
        if let Ok(bytes) = &file.content {
            assert!(bytes.len() as u64 <= FORM_LIMITS.max_file_bytes);
        }
        if let Some(name) = &file.original_name {
            assert!(!name.is_empty() && name.chars().count() <= 255, "{name:?}");
            assert!(name.trim() == name, "{name:?}");
            assert!(
                !name.contains(['/', '\\']) && name != "." && name != "..",
                "{name:?}"
            );
            assert!(
                !name.chars().any(pixgate_fuzz::is_unsafe_in_name),
                "{name:?}"
            );
        }
    }
});
