//! Configuration through the real binary: a bad value stops `pixgate serve` before it listens,
//! with a message naming the environment variable; a good one serves.

use std::process::{Command, Stdio};
use std::time::Duration;

fn serve_with_env(vars: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pixgate"));
    command
        .arg("serve")
        .env("PIXGATE_ADDR", "127.0.0.1:0")
        .stdin(Stdio::null());
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().expect("binary runs")
}

#[test]
fn bad_values_stop_the_server_naming_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("PIXGATE_MAX_FILES", "ten")], "PIXGATE_MAX_FILES"),
        (&[("PIXGATE_MAX_FILES", "0")], "PIXGATE_MAX_FILES"),
        (&[("PIXGATE_STORAGE", "s3")], "PIXGATE_BUCKET"),
        (&[("PIXGATE_STORAGE", "ftp")], "PIXGATE_STORAGE"),
        (
            &[("PIXGATE_PUBLIC_BASE_URL", "cdn.example.com")],
            "PIXGATE_PUBLIC_BASE_URL",
        ),
        (
            &[("PIXGATE_ALLOWED_ORIGINS", "chat.example.com")],
            "PIXGATE_ALLOWED_ORIGINS",
        ),
        (
            &[("PIXGATE_PROFILE_PREFIX", "../x")],
            "PIXGATE_PROFILE_PREFIX",
        ),
        (&[("PIXGATE_ADDR", "not-an-address")], "PIXGATE_ADDR"),
        // An issuer without keys would look like auth is on while uploads are open.
        (
            &[("PIXGATE_JWT_ISSUER", "https://issuer.example.com/")],
            "PIXGATE_JWT_ISSUER",
        ),
        (
            &[("PIXGATE_JWT_HS256_SECRET", "too-short")],
            "PIXGATE_JWT_HS256_SECRET",
        ),
    ];
    for (vars, named) in cases {
        let output = serve_with_env(vars);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{vars:?} should fail");
        assert!(
            stderr.contains(named),
            "{vars:?}: stderr does not name {named}: {stderr}"
        );
    }
}

#[test]
fn good_configuration_serves_health_checks() {
    let data = tempfile::tempdir().unwrap();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_pixgate"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("PIXGATE_DATA_DIR", data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut healthy = false;
    for _ in 0..100 {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ =
                stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            healthy = answer.starts_with("HTTP/1.1 200");
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(healthy, "pixgate serve answered /healthz");
}
