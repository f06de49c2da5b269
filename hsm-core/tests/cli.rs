//! `sts-keys` end to end: ceremonies and admin on a sealed store and on a SoftHSM2 token.

// The whole file is a test: its helpers fail the test by panicking, as assertions do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use hsm_core::softhsm::{CONF_ENV, SoftHsmToken};
use hsm_core::{Dkga, Kcv};

const RECORD_02: &str = r#"{"sgc": "123456", "krn": 1, "kt": 2, "dkga": "02", "ea": "07",
    "base_date": 1993, "ken": 255, "credit_window": {"from": "2024-01-01T00:00Z"}}"#;
const RECORD_04: &str = r#"{"sgc": "123457", "krn": 1, "kt": 2, "dkga": "04", "ea": "11",
    "base_date": 1993, "ken": 255}"#;
const PASSPHRASE: &str = "a long operator passphrase";

fn sts_keys(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sts-keys"));
    cmd.args(args)
        .env_remove("STS_KEYSTORE_PASSPHRASE")
        .env_remove("STS_PKCS11_PIN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn err(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// A component file of the published DKGA02 key AB…AB = 0F…0F ⊕ A4…A4, written 0600.
fn component_file(dir: &Path, who: &str, index: u8, hex: &str, kcv: Option<&str>) -> String {
    let bytes: Vec<u8> = (0..8)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let kcv = kcv.map_or_else(
        || Kcv::of_key_bytes(Dkga::Dkga02, &bytes).unwrap().to_string(),
        str::to_owned,
    );
    let path = dir.join(format!("{who}.json"));
    fs::write(
        &path,
        format!(
            r#"{{"format": "sts-key-component/1", "key_id": "sgc123456-krn1-kt2", "dkga": "02",
               "custodian": "{who}", "index": {index}, "scheme": "xor", "threshold": 2,
               "custodians": 2, "component": "{hex}", "component_kcv": "{kcv}",
               "key_kcv": "C33F45"}}"#
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    }
    path.to_string_lossy().into_owned()
}

#[test]
fn sealed_store_generate_import_list_kcv_remove() {
    let dir = tempfile::tempdir().unwrap();
    let store_a = format!("sealed:{}", dir.path().join("a.sealed").display());
    let store_b = format!("sealed:{}", dir.path().join("b.sealed").display());
    let env = [("STS_KEYSTORE_PASSPHRASE", PASSPHRASE)];
    ok(&sts_keys(&["--store", &store_a, "init"], &env));
    ok(&sts_keys(&["--store", &store_b, "init"], &env));
    let out_dir = dir.path().join("components");
    let out_dir_s = out_dir.to_string_lossy().into_owned();
    let text = ok(&sts_keys(
        &[
            "--store",
            &store_a,
            "--operator",
            "ops1",
            "ceremony",
            "generate",
            "--record",
            RECORD_04,
            "--custodians",
            "3",
            "--threshold",
            "2",
            "--name",
            "alice",
            "--name",
            "bob",
            "--name",
            "carol",
            "--out",
            &out_dir_s,
        ],
        &env,
    ));
    assert!(
        text.starts_with("generated sgc123457-krn1-kt2 (kcv "),
        "{text}"
    );
    let kcv = &text[34..40];
    let mut files: Vec<_> = fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3);
    #[cfg(unix)]
    for f in &files {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{f:?}"
        );
    }
    let listed = ok(&sts_keys(&["--store", &store_a, "list"], &env));
    assert!(
        listed.starts_with("sgc123457-krn1-kt2  DKGA04  EA11 (MISTY1)  BD1993  KEN255"),
        "{listed}"
    );
    assert_eq!(
        ok(&sts_keys(&["--store", &store_a, "kcv"], &env)),
        format!("sgc123457-krn1-kt2 {kcv}\n")
    );

    // Two of the three custodians rebuild it in another store.
    let (f1, f3) = (files[0].to_string_lossy(), files[2].to_string_lossy());
    let checked = ok(&sts_keys(
        &["kcv", "--component", &f1, "--component", &f3],
        &[],
    ));
    assert_eq!(checked.matches(": ok").count(), 2, "{checked}");
    let text = ok(&sts_keys(
        &[
            "--store",
            &store_b,
            "ceremony",
            "import",
            "--record",
            RECORD_04,
            "--component",
            &f1,
            "--component",
            &f3,
        ],
        &env,
    ));
    assert!(text.contains(&format!("(kcv {kcv})")), "{text}");
    assert_eq!(
        ok(&sts_keys(
            &["--store", &store_b, "kcv", "sgc123457-krn1-kt2"],
            &env
        )),
        format!("sgc123457-krn1-kt2 {kcv}\n")
    );

    ok(&sts_keys(
        &["--store", &store_a, "remove", "sgc123457-krn1-kt2"],
        &env,
    ));
    assert_eq!(ok(&sts_keys(&["--store", &store_a, "list"], &env)), "");
    let msg = err(&sts_keys(
        &["--store", &store_a, "remove", "sgc123457-krn1-kt2"],
        &env,
    ));
    assert!(
        msg.contains("no vending key sgc123457-krn1-kt2 in the store"),
        "{msg}"
    );

    // The audit log: generate, remove, refused remove; no component bytes.
    let audit = fs::read_to_string(format!(
        "{}.audit.jsonl",
        dir.path().join("a.sealed").display()
    ))
    .unwrap();
    let events: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["event"], "ceremony-generate");
    assert_eq!(events[0]["operator"], "ops1");
    assert_eq!(events[0]["key_kcv"].as_str(), Some(kcv));
    assert_eq!(events[0]["components"][2]["custodian"], "carol");
    for f in &files {
        let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(f).unwrap()).unwrap();
        assert!(!audit.contains(doc["component"].as_str().unwrap()));
    }

    // Wrong or missing passphrase.
    let msg = err(&sts_keys(
        &["--store", &store_a, "list"],
        &[("STS_KEYSTORE_PASSPHRASE", "nope")],
    ));
    assert!(msg.contains("wrong passphrase for key store"), "{msg}");
    let msg = err(&sts_keys(&["--store", &store_a, "list"], &[]));
    assert!(
        msg.contains("environment variable STS_KEYSTORE_PASSPHRASE is not set"),
        "{msg}"
    );
}

#[test]
fn a_component_with_a_wrong_kcv_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sealed:{}", dir.path().join("s.sealed").display());
    let env = [("STS_KEYSTORE_PASSPHRASE", PASSPHRASE)];
    ok(&sts_keys(&["--store", &store, "init"], &env));
    let a = component_file(dir.path(), "alice", 1, "0F0F0F0F0F0F0F0F", None);
    let b = component_file(dir.path(), "bob", 2, "A4A4A4A4A4A4A4A4", Some("123456"));
    let msg = err(&sts_keys(
        &[
            "--store",
            &store,
            "ceremony",
            "import",
            "--record",
            RECORD_02,
            "--component",
            &a,
            "--component",
            &b,
        ],
        &env,
    ));
    assert!(
        msg.contains("component 2 (bob) fails its key check: file says 123456"),
        "{msg}"
    );
    assert!(!msg.contains("A4A4"), "{msg}");
    assert_eq!(ok(&sts_keys(&["--store", &store, "list"], &env)), "");
}

#[test]
fn pkcs11_store_through_the_cli() {
    let module = support::module();
    assert!(
        module.exists(),
        "PKCS#11 module {} not found: set STS_PKCS11_MODULE",
        module.display()
    );
    let token = SoftHsmToken::create("cli", support::SO_PIN, support::USER_PIN).unwrap();
    let conf = token.conf_path().to_string_lossy().into_owned();
    let store = format!("pkcs11:{}:cli", module.display());
    let env = [
        (CONF_ENV, conf.as_str()),
        ("STS_PKCS11_PIN", support::USER_PIN),
    ];
    let dir = tempfile::tempdir().unwrap();
    let audit = dir
        .path()
        .join("audit.jsonl")
        .to_string_lossy()
        .into_owned();
    ok(&sts_keys(&["--store", &store, "init"], &env));
    let a = component_file(dir.path(), "alice", 1, "0F0F0F0F0F0F0F0F", None);
    let b = component_file(dir.path(), "bob", 2, "A4A4A4A4A4A4A4A4", None);
    let text = ok(&sts_keys(
        &[
            "--store",
            &store,
            "--audit",
            &audit,
            "ceremony",
            "import",
            "--record",
            RECORD_02,
            "--component",
            &a,
            "--component",
            &b,
        ],
        &env,
    ));
    assert!(
        text.starts_with("imported sgc123456-krn1-kt2 (kcv C33F45)"),
        "{text}"
    );
    // The token computes the KCV itself.
    assert_eq!(
        ok(&sts_keys(&["--store", &store, "kcv"], &env)),
        "sgc123456-krn1-kt2 C33F45\n"
    );
    let listed = ok(&sts_keys(&["--store", &store, "list"], &env));
    assert!(listed.contains("credit [2024-01-01T00:00Z, -)"), "{listed}");

    let msg = err(&sts_keys(
        &["--store", &store, "list"],
        &[(CONF_ENV, conf.as_str()), ("STS_PKCS11_PIN", "0000")],
    ));
    assert!(
        msg.contains("pkcs#11 login: C_Login returned CKR_PIN_INCORRECT"),
        "{msg}"
    );
    assert!(!msg.contains("0000"), "{msg}");
    let msg = err(&sts_keys(
        &["--store", "pkcs11:/no/such/module.so:cli", "list"],
        &env,
    ));
    assert!(
        msg.contains("pkcs#11 module /no/such/module.so does not exist"),
        "{msg}"
    );
    let msg = err(&sts_keys(&["--store", &store, "init"], &env));
    assert!(msg.contains("already holds a key store"), "{msg}");
}
