#!/usr/bin/env python3
"""The `belfry` Python module against a real local 4-replica cluster (python/README.md).

Started by ctest with PYTHONPATH naming the module's folder, BELFRY_BIN the programs'
folder and BELFRY_BASE_PORT a free port range. The cluster comes from belfry-setup and
belfry-cluster, as in test/e2e/; every wait is for an event (a call's answer), never for
a duration. Covers the 3S rules through the verifying client (a full session, a
confidential round trip, refusals mapped to the exception of the CLI's exit code with the
3S status, a second user denied) and that blocking calls release the GIL.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest

import belfry

BIN = os.environ["BELFRY_BIN"]
BASE_PORT = int(os.environ["BELFRY_BASE_PORT"])


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="belfry-py.")
        cls.dir = os.path.join(cls.work, "cluster")
        cls.clients = []
        try:
            cls.start_cluster()
        except BaseException:
            # unittest skips tearDownClass when setUpClass fails; no replica may outlive us.
            cls.tearDownClass()
            raise

    @classmethod
    def start_cluster(cls):
        run(os.path.join(BIN, "belfry-setup"), "init", "--insecure-service-key-primes",
            os.path.join(BIN, "test-service-key-primes.txt"), "--replicas", "4", "--out",
            cls.dir, "--users", "alice,bob,carol", "--base-port", str(BASE_PORT))
        run(os.path.join(BIN, "belfry-cluster"), "up", "--dir", cls.dir)
        cls.conf = os.path.join(cls.dir, "cluster.conf")
        cls.alice = belfry.Client(cls.conf, cls.key("alice"))
        cls.bob = belfry.Client(cls.dir, cls.key("bob"))  # the folder works too
        cls.clients = [cls.alice, cls.bob]
        cls.alice.login()
        cls.bob.login("bob")

    @classmethod
    def tearDownClass(cls):
        for c in cls.clients:
            c.close()
        subprocess.run([os.path.join(BIN, "belfry-cluster"), "down", "--dir", cls.dir],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(cls.work, ignore_errors=True)

    @classmethod
    def key(cls, user):
        return os.path.join(cls.dir, "users", user, user + ".key")

    def assertRaisesStatus(self, exc_class, status, code, exit_code, call, *args):
        with self.assertRaises(exc_class) as caught:
            call(*args)
        self.assertIsInstance(caught.exception, belfry.Error)
        self.assertEqual(caught.exception.status, status)
        self.assertEqual(caught.exception.code, code)
        self.assertEqual(caught.exception.exit_code, exit_code)
        return caught.exception

    # 3S: checkin, checkout, grant, delete and logout in one session; a new document
    # belongs to its first writer. (carol's own client: a login ends the user's previous
    # session, and the other tests keep alice's.)
    def test_full_session(self):
        c = belfry.Client(self.conf, self.key("carol"))
        login = c.login()
        self.assertEqual(login.uid, "carol")
        self.assertGreater(login.session_expires_ms, 0)
        info = c.checkin("session-doc", b"version one\n")
        self.assertEqual((info.doc, info.owner, info.created), ("session-doc", "carol", True))
        self.assertEqual(len(info.sha256), 32)
        self.assertGreaterEqual(len(info.replicas.agreeing), 3)  # 2f+1 of 4
        doc = c.checkout("session-doc")
        self.assertEqual(doc.data, b"version one\n")
        self.assertEqual(doc.version, info.version)
        self.assertFalse(doc.confidential)
        grant = c.grant("session-doc", "bob", "checkout", 60)
        self.assertEqual((grant.user, grant.rights), ("bob", "checkout"))
        self.assertEqual(self.bob.checkout("session-doc").data, b"version one\n")
        c.delete("session-doc")
        self.assertRaisesStatus(belfry.NoSuchDocument, "NO_SUCH_DOCUMENT", 704, 5,
                                c.checkout, "session-doc")
        c.logout()
        self.assertRaisesStatus(belfry.NotLoggedIn, None, None, 3, c.checkout, "session-doc")
        c.close()
        with self.assertRaises(ValueError):
            c.checkout("session-doc")

    # Confidential: encrypted here, so no replica holds the plaintext; opened here from
    # f+1 verified decryption shares.
    def test_confidential_round_trip(self):
        secret = b"canary-4b1d-python-plaintext"
        info = self.alice.checkin("py-secret", secret, confidential=True)
        self.assertNotEqual(info.sha256, belfry_sha256(secret))  # the hash of ciphertext
        doc = self.alice.checkout("py-secret")
        self.assertEqual(doc.data, secret)
        self.assertTrue(doc.confidential)
        for root, _, files in os.walk(os.path.join(self.dir, "data")):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    self.assertNotIn(secret, f.read(), os.path.join(root, name))
        # A str is stored as its UTF-8 bytes.
        self.alice.checkin("py-text", "grüße", confidential=True)
        self.assertEqual(self.alice.checkout("py-text").data, "grüße".encode())

    # Refusals: each maps to the exception class of the CLI's exit code, with the status.
    def test_refusals_map_to_exceptions(self):
        self.alice.checkin("py-private", b"only for alice")
        self.assertRaisesStatus(belfry.AccessDenied, "ACCESS_DENIED", 702, 4,
                                self.bob.checkout, "py-private")
        self.assertRaisesStatus(belfry.NoSuchDocument, "NO_SUCH_DOCUMENT", 704, 5,
                                self.alice.checkout, "py-never-written")
        # Found before anything is sent: no 3S status, the CLI's exit code 2.
        self.assertRaisesStatus(belfry.InvalidInput, None, None, 2,
                                self.alice.checkin, "a/b", b"x")
        e = self.assertRaisesStatus(belfry.InvalidInput, None, None, 2,
                                    self.alice.grant, "py-private", "bob", "sideways", 10)
        self.assertEqual(str(e), "rights must be checkin, checkout or both, not 'sideways'")
        self.assertRaisesStatus(belfry.InvalidInput, None, None, 2,
                                self.alice.grant, "py-private", "bob", "checkout", -1)
        with self.assertRaises(belfry.InvalidInput):
            belfry.Client(self.conf, os.path.join(self.work, "no-such.key"))
        for cls, exit_code in ((belfry.OtherError, 1), (belfry.InvalidInput, 2),
                               (belfry.NotLoggedIn, 3), (belfry.AccessDenied, 4),
                               (belfry.NoSuchDocument, 5), (belfry.IntegrityError, 6),
                               (belfry.NoQuorum, 7)):
            self.assertTrue(issubclass(cls, belfry.Error), cls)

    # 3S: only the owner writes, grants and deletes; a grant to ALL reaches bob.
    def test_second_user_denied(self):
        self.alice.checkin("py-owned", b"alice's")
        for call, args in ((self.bob.checkout, ("py-owned",)),
                           (self.bob.checkin, ("py-owned", b"bob's")),
                           (self.bob.grant, ("py-owned", "bob", "both", 60)),
                           (self.bob.delete, ("py-owned",))):
            self.assertRaisesStatus(belfry.AccessDenied, "ACCESS_DENIED", 702, 4, call, *args)
        self.alice.grant("py-owned", "ALL", "checkout", 60)
        self.assertEqual(self.bob.checkout("py-owned").data, b"alice's")
        self.assertEqual(self.alice.checkout("py-owned").data, b"alice's")

    # Integrity documents come with the service key's certificate, checked offline.
    def test_integrity_and_status(self):
        self.alice.checkin("py-signed", b"signed bytes", integrity=True)
        doc = self.alice.checkout("py-signed")
        cert = doc.integrity_certificate
        self.assertIsNotNone(cert)
        ca = os.path.join(self.dir, "ca.crt")
        service = os.path.join(self.dir, "service.crt")
        checked = belfry.verify_integrity_certificate(ca, service, doc.data, cert.der)
        self.assertEqual((checked.doc, checked.owner), ("py-signed", "alice"))
        self.assertRaisesStatus(belfry.IntegrityError, None, None, 6,
                                belfry.verify_integrity_certificate, ca, service,
                                b"other bytes", cert.der)
        self.assertEqual((self.alice.n, self.alice.f), (4, 1))
        states = self.alice.query_status(10.0)
        self.assertEqual([s.replica for s in states], [0, 1, 2, 3])
        path = os.path.join(self.work, "stamped.txt")
        with open(path, "wb") as f:
            f.write(b"stamp me")
        stamp = self.alice.stamp_file(path)
        self.assertGreater(len(stamp.response_der), 0)
        self.assertGreater(stamp.gen_time_ms, 0)

    # A call blocked on the cluster lets other Python threads run: with 2 of 4 replicas
    # paused no quorum exists, and only this thread can resume them. Were the GIL held
    # through the call, this thread could not run until the call gave up (NoQuorum).
    def test_blocking_call_releases_gil(self):
        self.alice.checkin("py-gil", b"gil")
        pids = []
        for replica in (2, 3):
            with open(os.path.join(self.dir, "run", "replica-%d.pid" % replica)) as f:
                pids.append(int(f.read()))
        entering = threading.Event()
        outcome = {}

        def reader():
            entering.set()
            try:
                outcome["data"] = self.alice.checkout("py-gil").data
            except belfry.Error as e:  # reported below
                outcome["error"] = e

        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            t = threading.Thread(target=reader)
            t.start()
            entering.wait()
            # Lets the reader enter its call (and drop the GIL there). Should it not have
            # got there yet, it reaches a cluster that is whole again and the test proves
            # less, but never fails wrongly.
            threading.Event().wait(0.5)
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        t.join()
        self.assertEqual(outcome.get("data"), b"gil", outcome.get("error"))


def belfry_sha256(data):
    import hashlib
    return hashlib.sha256(data).digest()


if __name__ == "__main__":
    unittest.main(verbosity=2)
