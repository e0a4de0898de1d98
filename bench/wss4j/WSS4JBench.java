// WSS4JBench measures what Apache WSS4J 1.6.19 (Debian's libwss4j-java) costs
// for the work that authsvc's BenchmarkDigestAuth
// (authn/username/hotpath_bench_test.go) measures: take the bytes of a SOAP
// 1.1 envelope whose Security header carries a PasswordDigest UsernameToken
// (Nonce + Created), parse them into a DOM with a namespace-aware
// DocumentBuilder, and run WSSecurityEngine.processSecurityHeader with
//   - a CallbackHandler that gives the password ("wonderland" for "alice"),
//   - WSS4J's own nonce replay cache (RequestData.setNonceReplayCache with an
//     org.apache.ws.security.cache.MemoryReplayCache; checked and added to on
//     every message),
//   - UsernameToken Created freshness (WSSConfig utTTL 300 s, utFutureTTL
//     60 s, as authsvc's DefaultPolicy) and strict Timestamp checking
//     (timeStampStrict, TTL 300 s, future 60 s; only exercised with
//     -timestamp, since authsvc's benchmark message has no Timestamp).
//
// The message is byte for byte the one wsseclient.Envelope builds for the Go
// benchmark (same prolog, prefixes, Id, body "<ns:Echo>" with N 'x's). Like
// the Go benchmark, each iteration overwrites the Nonce and the digest in one
// message buffer in place (two small array copies, inside the timed region)
// from a batch of tokens generated outside the timed region, so every message
// has a fresh nonce. The digests are computed with WSS4J's own
// UsernameToken.doPasswordDigest.
//
// It is a plain main, not JMH (libjmh-java is not in the reachable Debian
// archive). Warm-up runs for a time budget, then each round runs for a time
// budget and prints a line in Go's benchmark format (so benchstat can read
// it) plus the median. B/op is the bytes the measuring thread allocated
// (com.sun.management.ThreadMXBean), comparable to -benchmem's B/op.
//
//	java -cp DIR:JARS WSS4JBench [-warmup 20s] [-rounds 5] [-round 2s]
//	     [-sizes 600,1048576] [-big-warmup 10s] [-timestamp] [-quiet-check]
import java.io.ByteArrayInputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.security.Principal;
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TimeZone;

import javax.security.auth.callback.Callback;
import javax.security.auth.callback.CallbackHandler;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;

import org.apache.ws.security.WSPasswordCallback;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.WSSecurityEngine;
import org.apache.ws.security.WSSecurityEngineResult;
import org.apache.ws.security.WSSecurityException;
import org.apache.ws.security.cache.MemoryReplayCache;
import org.apache.ws.security.handler.RequestData;
import org.apache.ws.security.message.token.UsernameToken;
import org.apache.ws.security.util.WSSecurityUtil;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

public class WSS4JBench {
    static final String NS_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/";
    static final String NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    static final String NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    static final String PW_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
    static final String B64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";
    static final String USER = "alice", PASSWORD = "wonderland";

    // Placeholders of the right length (24 chars: 16-byte nonce in Base64, and
    // a Created like 2006-01-02T15:04:05.000Z; 28 chars: SHA-1 in Base64).
    static final String NONCE_PH = "NNNNNNNNNNNNNNNNNNNNNNN=";
    static final String DIGEST_PH = "DDDDDDDDDDDDDDDDDDDDDDDDDDD=";
    static final String CREATED_PH = "CCCCCCCCCCCCCCCCCCCCCCCC";
    static final String TSC_PH = "TTTTTTTTTTTTTTTTTTTTTTTT";
    static final String TSE_PH = "EEEEEEEEEEEEEEEEEEEEEEEE";

    static boolean timestamp;
    // -new-dbf: a new DocumentBuilderFactory and DocumentBuilder per message,
    // as BENCHMARKS.md's first WSS4J figures did (the "default" configuration
    // of issue 14); without it one DocumentBuilder is reused (the fair one).
    static boolean newDbf;

    /** The envelope of wsseclient.Envelope(wsse.SOAP11, digest token, body), with placeholders. */
    static String template(int bodyX) {
        StringBuilder x = new StringBuilder(bodyX);
        for (int i = 0; i < bodyX; i++) {
            x.append('x');
        }
        String body = "<ns:Echo xmlns:ns=\"urn:example:echo\"><ns:text>" + x + "</ns:text></ns:Echo>";
        String ts = timestamp
            ? "<wsu:Timestamp wsu:Id=\"TS-1\"><wsu:Created>" + TSC_PH + "</wsu:Created><wsu:Expires>" + TSE_PH + "</wsu:Expires></wsu:Timestamp>"
            : "";
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            + "<soap:Envelope xmlns:soap=\"" + NS_SOAP11 + "\"><soap:Header>"
            + "<wsse:Security xmlns:wsse=\"" + NS_WSSE + "\" xmlns:wsu=\"" + NS_WSU + "\" soap:mustUnderstand=\"1\">"
            + ts
            + "<wsse:UsernameToken wsu:Id=\"UsernameToken-1\"><wsse:Username>" + USER + "</wsse:Username>"
            + "<wsse:Password Type=\"" + PW_DIGEST + "\">" + DIGEST_PH + "</wsse:Password>"
            + "<wsse:Nonce EncodingType=\"" + B64 + "\">" + NONCE_PH + "</wsse:Nonce>"
            + "<wsu:Created>" + CREATED_PH + "</wsu:Created>"
            + "</wsse:UsernameToken></wsse:Security></soap:Header><soap:Body>"
            + body
            + "</soap:Body></soap:Envelope>";
    }

    /** One message buffer whose token fields are overwritten in place. */
    static final class Msg {
        final byte[] b;
        final int nonceAt, digestAt, createdAt, tscAt, tseAt;

        Msg(int bodyX) {
            String t = template(bodyX);
            b = t.getBytes(StandardCharsets.UTF_8);
            nonceAt = t.indexOf(NONCE_PH);
            digestAt = t.indexOf(DIGEST_PH);
            createdAt = t.indexOf(CREATED_PH);
            tscAt = t.indexOf(TSC_PH);
            tseAt = t.indexOf(TSE_PH);
        }

        void put(int at, String s) {
            byte[] v = s.getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(v, 0, b, at, v.length);
        }

        /** Sets the per-batch fields: the token's Created and the Timestamp. */
        void setTimes(long nowMillis, String created) {
            put(createdAt, created);
            if (tscAt >= 0) {
                put(tscAt, fmt(nowMillis));
                put(tseAt, fmt(nowMillis + 300_000));
            }
        }
    }

    /** A batch of fresh nonces with their digests, as ASCII bytes. */
    static final class Batch {
        final byte[][] nonce, digest;
        final long nowMillis;
        final String created;

        Batch(int n, SplittableRandom rnd, long createdMillis, String password) {
            nowMillis = System.currentTimeMillis();
            created = fmt(createdMillis);
            nonce = new byte[n][];
            digest = new byte[n][];
            byte[] raw = new byte[16];
            for (int i = 0; i < n; i++) {
                rnd.nextBytes(raw);
                String nb = Base64.getEncoder().encodeToString(raw);
                nonce[i] = nb.getBytes(StandardCharsets.US_ASCII);
                digest[i] = UsernameToken.doPasswordDigest(nb, created, password).getBytes(StandardCharsets.US_ASCII);
            }
        }

        Batch(int n, SplittableRandom rnd) {
            this(n, rnd, System.currentTimeMillis(), PASSWORD);
        }
    }

    static String fmt(long millis) {
        SimpleDateFormat f = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'");
        f.setTimeZone(TimeZone.getTimeZone("UTC"));
        return f.format(new Date(millis));
    }

    static final CallbackHandler PASSWORDS = new CallbackHandler() {
        public void handle(Callback[] cbs) throws UnsupportedCallbackException {
            for (Callback c : cbs) {
                if (!(c instanceof WSPasswordCallback)) {
                    throw new UnsupportedCallbackException(c);
                }
                WSPasswordCallback pc = (WSPasswordCallback) c;
                if (USER.equals(pc.getIdentifier())) {
                    pc.setPassword(PASSWORD);
                }
            }
        }
    };

    /** The verifier: one DocumentBuilder, one engine, one RequestData with a replay cache. */
    static final class Verifier {
        final DocumentBuilder db;
        final WSSecurityEngine engine = new WSSecurityEngine();
        final RequestData data = new RequestData();
        final MemoryReplayCache nonces = new MemoryReplayCache();

        Verifier() throws Exception {
            db = newBuilder();
            WSSConfig cfg = WSSConfig.getNewInstance();
            cfg.setUtTTL(300);
            cfg.setUtFutureTTL(60);
            cfg.setTimeStampStrict(true);
            cfg.setTimeStampTTL(300);
            cfg.setTimeStampFutureTTL(60);
            engine.setWssConfig(cfg);
            data.setWssConfig(cfg);
            data.setCallbackHandler(PASSWORDS);
            data.setNonceReplayCache(nonces);
        }

        static DocumentBuilder newBuilder() throws Exception {
            DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
            dbf.setNamespaceAware(true);
            // As a careful WSS4J user (e.g. CXF) would: no DOCTYPE, no XXE.
            dbf.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            dbf.setFeature(javax.xml.XMLConstants.FEATURE_SECURE_PROCESSING, true);
            return dbf.newDocumentBuilder();
        }

        /** Parses and verifies; returns the principal's name. */
        String verify(byte[] msg) throws Exception {
            Document doc = (newDbf ? newBuilder() : db).parse(new ByteArrayInputStream(msg));
            Element sec = WSSecurityUtil.getSecurityHeader(doc, null);
            if (sec == null) {
                throw new IllegalStateException("no Security header");
            }
            List<WSSecurityEngineResult> res = engine.processSecurityHeader(sec, data);
            if (res == null || res.isEmpty()) {
                throw new IllegalStateException("no results");
            }
            String name = null;
            for (WSSecurityEngineResult r : res) {
                Principal p = (Principal) r.get(WSSecurityEngineResult.TAG_PRINCIPAL);
                if (p != null) {
                    name = p.getName();
                }
            }
            return name;
        }
    }

    static int sink;

    /** Runs batches until budgetNanos of timed work; returns {ops, nanos, allocBytes}. */
    static long[] run(Verifier v, Msg m, SplittableRandom rnd, int batchSize, long budgetNanos) throws Exception {
        com.sun.management.ThreadMXBean tmx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        long ops = 0, nanos = 0, alloc = 0;
        while (nanos < budgetNanos) {
            Batch bt = new Batch(batchSize, rnd); // not timed
            m.setTimes(bt.nowMillis, bt.created);
            long a0 = tmx.getThreadAllocatedBytes(tid);
            long t0 = System.nanoTime();
            for (int i = 0; i < batchSize; i++) {
                System.arraycopy(bt.nonce[i], 0, m.b, m.nonceAt, 24);
                System.arraycopy(bt.digest[i], 0, m.b, m.digestAt, 28);
                String who = v.verify(m.b);
                if (who != USER && !USER.equals(who)) {
                    throw new IllegalStateException("principal " + who);
                }
                sink += who.length();
            }
            nanos += System.nanoTime() - t0;
            alloc += tmx.getThreadAllocatedBytes(tid) - a0;
            ops += batchSize;
        }
        return new long[] {ops, nanos, alloc};
    }

    static void expectReject(String what, Verifier v, byte[] msg) throws Exception {
        try {
            v.verify(msg);
        } catch (WSSecurityException e) {
            System.out.println("#   " + what + ": rejected (" + e.getMessage() + ")");
            return;
        }
        throw new IllegalStateException(what + " was accepted");
    }

    /** Shows that the configuration really checks what it claims to. */
    static void selfCheck(int bodyX, SplittableRandom rnd) throws Exception {
        Verifier v = new Verifier();
        Msg m = new Msg(bodyX);
        Batch bt = new Batch(1, rnd);
        m.setTimes(bt.nowMillis, bt.created);
        System.arraycopy(bt.nonce[0], 0, m.b, m.nonceAt, 24);
        System.arraycopy(bt.digest[0], 0, m.b, m.digestAt, 28);
        System.out.println("# self-check body=" + bodyX + " (" + m.b.length + " bytes):");
        System.out.println("#   fresh token: accepted as " + v.verify(m.b.clone()));
        expectReject("same nonce again (replay cache)", v, m.b.clone());

        Batch stale = new Batch(1, rnd, System.currentTimeMillis() - 600_000, PASSWORD);
        System.arraycopy(stale.nonce[0], 0, m.b, m.nonceAt, 24);
        System.arraycopy(stale.digest[0], 0, m.b, m.digestAt, 28);
        m.put(m.createdAt, stale.created);
        expectReject("Created 10 min old (utTTL)", v, m.b.clone());

        Batch future = new Batch(1, rnd, System.currentTimeMillis() + 120_000, PASSWORD);
        System.arraycopy(future.nonce[0], 0, m.b, m.nonceAt, 24);
        System.arraycopy(future.digest[0], 0, m.b, m.digestAt, 28);
        m.put(m.createdAt, future.created);
        expectReject("Created 2 min ahead (utFutureTTL)", v, m.b.clone());

        Batch wrong = new Batch(1, rnd, System.currentTimeMillis(), "not-the-password");
        System.arraycopy(wrong.nonce[0], 0, m.b, m.nonceAt, 24);
        System.arraycopy(wrong.digest[0], 0, m.b, m.digestAt, 28);
        m.put(m.createdAt, wrong.created);
        expectReject("wrong password digest", v, m.b.clone());

        if (m.tscAt >= 0) {
            Batch ok = new Batch(1, rnd);
            System.arraycopy(ok.nonce[0], 0, m.b, m.nonceAt, 24);
            System.arraycopy(ok.digest[0], 0, m.b, m.digestAt, 28);
            m.put(m.createdAt, ok.created);
            long now = System.currentTimeMillis();
            m.put(m.tscAt, fmt(now - 900_000));
            m.put(m.tseAt, fmt(now - 600_000));
            expectReject("expired Timestamp (timeStampStrict)", v, m.b.clone());
        }
    }

    static long parseDur(String s) {
        if (s.endsWith("ms")) {
            return Long.parseLong(s.substring(0, s.length() - 2)) * 1_000_000L;
        }
        if (s.endsWith("s")) {
            return (long) (Double.parseDouble(s.substring(0, s.length() - 1)) * 1e9);
        }
        return (long) (Double.parseDouble(s) * 1e9);
    }

    public static void main(String[] args) throws Exception {
        long warmup = parseDur("20s"), bigWarmup = parseDur("10s"), round = parseDur("2s");
        int rounds = 5;
        int[] sizes = {600, 1 << 20};
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
            case "-warmup": warmup = parseDur(args[++i]); break;
            case "-big-warmup": bigWarmup = parseDur(args[++i]); break;
            case "-round": round = parseDur(args[++i]); break;
            case "-rounds": rounds = Integer.parseInt(args[++i]); break;
            case "-timestamp": timestamp = true; break;
            case "-new-dbf": newDbf = true; break;
            case "-sizes":
                sizes = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                break;
            default:
                System.err.println("usage: WSS4JBench [-warmup 20s] [-big-warmup 10s] [-rounds 5] [-round 2s] [-sizes 600,1048576] [-timestamp] [-new-dbf]");
                System.exit(2);
            }
        }
        WSSConfig.init();
        SplittableRandom rnd = new SplittableRandom(); // nonces: 128 random bits each
        String name = "BenchmarkWSS4JDigestAuth" + (timestamp ? "Timestamp" : "");
        System.out.println("# WSS4J " + WSSConfig.class.getPackage().getImplementationVersion()
            + " (" + WSSConfig.class.getProtectionDomain().getCodeSource().getLocation() + ")"
            + ", java " + System.getProperty("java.vm.version")
            + ", DocumentBuilderFactory " + DocumentBuilderFactory.newInstance().getClass().getName());
        for (int size : sizes) {
            selfCheck(size, rnd);
        }
        for (int size : sizes) {
            Msg m = new Msg(size);
            int batchSize = (int) Math.max(16, Math.min(16384, (16L << 20) / m.b.length));
            long wu = size >= (64 << 10) ? bigWarmup : warmup;
            // Warm-up on its own verifier, so the measured replay cache only
            // holds the nonces of its own round (the Go benchmark's cache is
            // new for each b.N run too).
            long[] w = run(new Verifier(), m, rnd, batchSize, wu);
            System.out.printf("# warm-up body=%d: %d ops in %.1f s timed, %.0f ns/op%n",
                size, w[0], w[1] / 1e9, (double) w[1] / w[0]);
            double[] nsop = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                long[] res = run(new Verifier(), m, rnd, batchSize, round);
                nsop[r] = (double) res[1] / res[0];
                double mbs = (double) m.b.length * res[0] / (res[1] / 1e9) / 1e6;
                System.out.printf("%s/body=%d \t%8d\t%12.0f ns/op\t%8.2f MB/s\t%10d B/op%n",
                    name, size, res[0], nsop[r], mbs, res[2] / res[0]);
            }
            double[] sorted = nsop.clone();
            Arrays.sort(sorted);
            double med = rounds % 2 == 1 ? sorted[rounds / 2] : (sorted[rounds / 2 - 1] + sorted[rounds / 2]) / 2;
            System.out.printf("# median %s/body=%d (%d bytes): %.0f ns/op over %d rounds (min %.0f, max %.0f)%n",
                name, size, m.b.length, med, rounds, sorted[0], sorted[rounds - 1]);
        }
        if (sink == 42) {
            System.out.println();
        }
    }
}
