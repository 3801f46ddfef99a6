//! Why renew exists: without it, the posture locks every client certificate out once the CRLs
//! pass their next update (30 days), because PostgreSQL checks the CRL of every CA in the chain.

use super::support::{DAY, ROLE, Rig};

#[test]
fn thirty_one_days_after_apply_every_client_certificate_login_fails() {
    let rig = Rig::new(None, None);

    // A day before the CRLs run out, alice still gets in, so what follows is the clock's doing.
    rig.at(29 * DAY);
    let before = rig.login(None);
    assert!(before.ok && before.stdout == ROLE, "at +29 days alice logs in: {}", before.stderr);

    // The server's CRLs have passed their next update: it refuses the client certificate in the
    // handshake, and says why in the alert.
    rig.at(31 * DAY);
    let after = rig.login(None);
    assert!(!after.ok, "at +31 days the login must fail, got {:?}", after.stdout);
    assert!(
        after.stderr.contains("alert certificate expired"),
        "the error must say the certificate (CRL) expired: {}",
        after.stderr
    );
    let log = rig.server_log();
    assert!(
        log.contains("could not accept SSL connection: certificate verify failed"),
        "the server logs the refused handshake: {log}"
    );

    // A client that keeps the CRLs too (sslcrl) refuses the server itself, for the same reason.
    let with_crl = rig.login(Some(&rig.pki.p("crls.pem")));
    assert!(!with_crl.ok, "a client with the expired CRLs cannot verify the server");
    assert!(
        with_crl.stderr.contains("certificate verify failed"),
        "the client's own check fails: {}",
        with_crl.stderr
    );
}
