// WSS4JSignedBench measures what Apache WSS4J 1.6.19 (Debian's libwss4j-java)
// costs to verify the derived-key messages that authsvc's
// BenchmarkLoginDerivedKeySize (authn/username/derived_bench_test.go)
// verifies, on the same bytes: files DIR/signed-SIZE.xml that WSS4J itself
// made (bench/signed.sh writes them with test/wss4j/Gen.java): a UsernameToken
// with Salt and Iteration 1000 (user bob, password "security"), a Timestamp,
// and an HMAC-SHA1 signature with the derived key over Body and Timestamp.
//
// Each message: parse into a DOM with one reused namespace-aware
// DocumentBuilder (DOCTYPE refused, as a careful user configures it), then
// WSSecurityEngine.processSecurityHeader with a password callback; WSS4J
// derives the key (1000 SHA-1 rounds), canonicalizes and checks the
// signature. The Go benchmark does the same work (parse, derivation, C14N,
// digests, HMAC) with a replay cache that accepts everything; WSS4J 1.6 has no
// replay cache for derived-key signatures, so neither side records anything.
//
// Output: one line per round in Go's benchmark format, and the median.
//
//	java -cp DIR:JARS WSS4JSignedBench -dir MSGDIR [-sizes 4096,102400,1048576]
//	     [-warmup 10s] [-rounds 5] [-round 2s] [-new-dbf]
import java.io.ByteArrayInputStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.Principal;
import java.util.Arrays;
import java.util.List;

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
import org.apache.ws.security.handler.RequestData;
import org.apache.ws.security.util.WSSecurityUtil;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

public class WSS4JSignedBench {
    static final String USER = "bob", PASSWORD = "security";
    // -new-dbf: a new DocumentBuilderFactory and DocumentBuilder per message
    // (the "default" configuration of issue 14); else one reused builder.
    static boolean newDbf;

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

    static final class Verifier {
        final DocumentBuilder db;
        final WSSecurityEngine engine = new WSSecurityEngine();
        final RequestData data = new RequestData();

        Verifier() throws Exception {
            db = newBuilder();
            WSSConfig cfg = WSSConfig.getNewInstance();
            // The files are made before the run; their Timestamp must stay
            // acceptable for its length (the Go side judges them at Created+1s).
            // A derived-key UsernameToken carries no Password element.
            cfg.setAllowUsernameTokenNoPassword(true);
            cfg.setTimeStampStrict(true);
            cfg.setTimeStampTTL(86400);
            cfg.setTimeStampFutureTTL(60);
            engine.setWssConfig(cfg);
            data.setWssConfig(cfg);
            data.setCallbackHandler(PASSWORDS);
        }

        static DocumentBuilder newBuilder() throws Exception {
            DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
            dbf.setNamespaceAware(true);
            dbf.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            dbf.setFeature(javax.xml.XMLConstants.FEATURE_SECURE_PROCESSING, true);
            return dbf.newDocumentBuilder();
        }

        /** Parses and verifies; returns the signer's name. */
        String verify(byte[] msg) throws Exception {
            Document doc = (newDbf ? newBuilder() : db).parse(new ByteArrayInputStream(msg));
            Element sec = WSSecurityUtil.getSecurityHeader(doc, null);
            if (sec == null) {
                throw new IllegalStateException("no Security header");
            }
            List<WSSecurityEngineResult> res = engine.processSecurityHeader(sec, data);
            boolean signed = false;
            String name = null;
            for (WSSecurityEngineResult r : res) {
                Integer action = (Integer) r.get(WSSecurityEngineResult.TAG_ACTION);
                if (action != null && (action & (org.apache.ws.security.WSConstants.SIGN | org.apache.ws.security.WSConstants.UT_SIGN)) != 0) {
                    signed = true;
                }
                Principal p = (Principal) r.get(WSSecurityEngineResult.TAG_PRINCIPAL);
                if (p != null && name == null) {
                    name = p.getName();
                }
            }
            if (!signed) {
                throw new IllegalStateException("no signature result");
            }
            return name;
        }
    }

    static int sink;

    /** Verifies msg until budgetNanos have passed; returns {ops, nanos, allocBytes}. */
    static long[] run(Verifier v, byte[] msg, long budgetNanos) throws Exception {
        com.sun.management.ThreadMXBean tmx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        long ops = 0, alloc0 = tmx.getThreadAllocatedBytes(tid), t0 = System.nanoTime(), nanos = 0;
        while (nanos < budgetNanos) {
            String who = v.verify(msg);
            sink += who == null ? 0 : who.length();
            ops++;
            nanos = System.nanoTime() - t0;
        }
        return new long[] {ops, nanos, tmx.getThreadAllocatedBytes(tid) - alloc0};
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
        long warmup = parseDur("10s"), round = parseDur("2s");
        int rounds = 5;
        int[] sizes = {4096, 102400, 1048576};
        String dir = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
            case "-dir": dir = args[++i]; break;
            case "-new-dbf": newDbf = true; break;
            case "-warmup": warmup = parseDur(args[++i]); break;
            case "-round": round = parseDur(args[++i]); break;
            case "-rounds": rounds = Integer.parseInt(args[++i]); break;
            case "-sizes":
                sizes = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                break;
            default:
                System.err.println("usage: WSS4JSignedBench -dir DIR [-sizes 4096,102400,1048576] [-warmup 10s] [-rounds 5] [-round 2s] [-new-dbf]");
                System.exit(2);
            }
        }
        if (dir == null) {
            System.err.println("WSS4JSignedBench: -dir is required");
            System.exit(2);
        }
        WSSConfig.init();
        System.out.println("# WSS4J " + WSSConfig.class.getPackage().getImplementationVersion()
            + ", java " + System.getProperty("java.vm.version")
            + ", GC " + ManagementFactory.getGarbageCollectorMXBeans().get(0).getName()
            + ", processors " + Runtime.getRuntime().availableProcessors());
        for (int size : sizes) {
            byte[] msg = Files.readAllBytes(Paths.get(dir, "signed-" + size + ".xml"));
            Verifier v = new Verifier();
            System.out.println("# self-check body=" + size + " (" + msg.length + " bytes): accepted as " + v.verify(msg));
            byte[] bad = msg.clone();
            int at = new String(bad, "UTF-8").lastIndexOf("value &amp; more text");
            bad[at] = 'V';
            try {
                v.verify(bad);
                throw new IllegalStateException("a tampered body was accepted");
            } catch (WSSecurityException e) {
                System.out.println("#   tampered body: rejected (" + e.getMessage() + ")");
            }
            long[] w = run(v, msg, warmup);
            System.out.printf("# warm-up body=%d: %d ops, %.0f ns/op%n", size, w[0], (double) w[1] / w[0]);
            double[] nsop = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                long[] res = run(v, msg, round);
                nsop[r] = (double) res[1] / res[0];
                System.out.printf("BenchmarkWSS4JSigned/body=%d \t%8d\t%12.0f ns/op\t%8.2f MB/s\t%10d B/op%n",
                    size, res[0], nsop[r], msg.length * res[0] / (res[1] / 1e9) / 1e6, res[2] / res[0]);
            }
            double[] sorted = nsop.clone();
            Arrays.sort(sorted);
            double med = rounds % 2 == 1 ? sorted[rounds / 2] : (sorted[rounds / 2 - 1] + sorted[rounds / 2]) / 2;
            System.out.printf("# median BenchmarkWSS4JSigned/body=%d (%d bytes): %.0f ns/op (min %.0f, max %.0f)%n",
                size, msg.length, med, sorted[0], sorted[rounds - 1]);
        }
        if (sink == 42) {
            System.out.println();
        }
    }
}
