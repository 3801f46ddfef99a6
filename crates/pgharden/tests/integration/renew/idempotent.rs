//! A renew that finds nothing due does nothing, and `--plan` never changes anything: both are what
//! a timer running renew every few hours relies on.

use super::support::{DAY, Rig, actions, crl_cas, crls, file_names, only_cluster, unix};

#[test]
fn plan_changes_nothing_and_a_second_renew_has_nothing_to_do() {
    let rig = Rig::new(None, None);
    rig.at(25 * DAY);

    // The plan lists what is due and changes nothing, in the PKI or in the data directory.
    let pki_before = rig.pki_tree();
    let data_before = rig.data_files();
    let plan = rig.renew(&["--plan"]);
    assert_eq!(plan["plan"], true, "{plan:#}");
    assert_eq!(crl_cas(&plan), ["client-ca", "root", "server-ca"], "{plan:#}");
    let deploys = actions(&plan, "deploy");
    assert_eq!(deploys.len(), 1, "the plan says the CRLs would be deployed: {plan:#}");
    assert!(file_names(deploys[0]).contains(&"root.crl".to_string()), "{plan:#}");
    assert_eq!(plan["clusters"], serde_json::json!([]), "a plan touches no cluster: {plan:#}");
    assert!(unix(&plan["next_due"]) > unix(&plan["now"]), "{plan:#}");
    assert!(rig.pki_tree() == pki_before, "--plan changed the PKI directory");
    assert!(rig.data_files() == data_before, "--plan changed the data directory");

    let first = rig.renew(&[]);
    assert_eq!(crl_cas(&first), ["client-ca", "root", "server-ca"], "{first:#}");

    // Right after, nothing is due and nothing is deployed: no action, no file touched.
    let pki_after = rig.pki_tree();
    let data_after = rig.data_files();
    let pid = rig.pid();
    let second = rig.renew(&[]);
    assert_eq!(second["actions"], serde_json::json!([]), "{second:#}");
    assert_eq!(second["redistribute"], serde_json::json!([]), "{second:#}");
    let cluster = only_cluster(&second);
    assert_eq!(cluster["changed"], serde_json::json!([]), "{second:#}");
    assert_eq!(cluster["reloaded"], false, "{second:#}");
    assert_eq!(cluster["postmaster_pid"], pid, "{second:#}");
    assert!(rig.data_files() == data_after, "a renew with nothing due changed the data directory");
    assert!(rig.pki_tree() == pki_after, "a renew with nothing due changed the PKI directory");

    // The next thing due is the CRLs again, two thirds of their life after their this-update.
    let expected = crls(&rig.data("root.crl"))
        .iter()
        .map(|c| c.this_update + (c.next_update - c.this_update) * 2 / 3)
        .min()
        .unwrap();
    for report in [&first, &second] {
        let next_due = unix(&report["next_due"]);
        assert!(next_due > unix(&report["now"]), "next_due is in the future: {report:#}");
        assert!(
            (next_due - expected).abs() <= 60,
            "next_due {next_due}, expected about {expected}: {report:#}"
        );
    }
    let plan = rig.renew(&["--plan"]);
    assert_eq!(plan["actions"], serde_json::json!([]), "{plan:#}");
    assert_eq!(unix(&plan["next_due"]), unix(&second["next_due"]), "{plan:#}");
    assert!(
        rig.data_files() == data_after && rig.pki_tree() == pki_after,
        "the second plan changed something"
    );
}
