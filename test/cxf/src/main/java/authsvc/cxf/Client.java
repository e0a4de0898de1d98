package authsvc.cxf;

import java.io.ByteArrayInputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

import javax.net.ssl.TrustManagerFactory;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.CallbackHandler;
import javax.xml.namespace.QName;
import javax.xml.parsers.DocumentBuilderFactory;

import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import jakarta.xml.soap.MessageFactory;
import jakarta.xml.soap.SOAPBody;
import jakarta.xml.soap.SOAPElement;
import jakarta.xml.soap.SOAPMessage;
import jakarta.xml.ws.BindingProvider;
import jakarta.xml.ws.Dispatch;
import jakarta.xml.ws.Service;

import org.apache.cxf.Bus;
import org.apache.cxf.BusFactory;
import org.apache.cxf.configuration.jsse.TLSClientParameters;
import org.apache.cxf.endpoint.Endpoint;
import org.apache.cxf.interceptor.Fault;
import org.apache.cxf.io.CacheAndWriteOutputStream;
import org.apache.cxf.io.CachedOutputStream;
import org.apache.cxf.io.CachedOutputStreamCallback;
import org.apache.cxf.jaxws.DispatchImpl;
import org.apache.cxf.message.Message;
import org.apache.cxf.phase.AbstractPhaseInterceptor;
import org.apache.cxf.phase.Phase;
import org.apache.cxf.ws.security.SecurityConstants;
import org.apache.cxf.transport.http.HTTPConduit;
import org.apache.cxf.transport.http.HTTPConduitConfigurer;
import org.apache.cxf.ws.policy.PolicyConstants;
import org.apache.cxf.ws.policy.PolicyInInterceptor;
import org.apache.cxf.ws.security.tokenstore.SecurityToken;
import org.apache.cxf.ws.security.trust.STSClient;
import org.apache.cxf.ws.security.trust.STSUtils;
import org.apache.neethi.Policy;
import org.apache.wss4j.common.ext.WSPasswordCallback;

/**
 * An Apache CXF 4 JAX-WS client for authsvc's WS-SecureConversation interop
 * tests (issue 12). It calls the Echo operation of echo-sc.wsdl through a
 * Dispatch&lt;SOAPMessage&gt; on the port of the chosen WS-SecurityPolicy, so
 * that CXF itself asks the endpoint for a SecurityContextToken (its RST,
 * bootstrapped by a UsernameToken over TLS), then signs the call with it, and
 * with -cancel cancels the token. Every HTTP message CXF sends or receives is
 * written to the -out directory as NN-out.http / NN-in.http (a first line,
 * the headers CXF set or got, a blank line, the body as sent).
 *
 * <pre>
 * java -cp target/cxf-client.jar:target/lib/* authsvc.cxf.Client \
 *   -url https://127.0.0.1:8443/echo -policy T -ca ca.pem -out DIR \
 *   [-user alice] [-password wonderland] [-text hello] [-cancel] [-api] [-digest]
 * </pre>
 *
 * -digest sends the bootstrap UsernameToken with PasswordDigest (the policy's
 * UsernameToken gets sp:HashPassword) instead of PasswordText.
 *
 * -api is for authsvc's API mode (/v1/authenticate), which answers an
 * accepted call with the Subject as JSON: a 2xx application/json answer is
 * then the reply (printed), and CXF is handed an empty SOAP envelope in its
 * place. The recorded NN-in.http holds the JSON as it came.
 *
 * Exit status 0: the call (and the cancel) succeeded and the reply is on
 * standard output. 1: CXF failed; the reason is the last line of standard
 * error, "cxf-client: error: ...". 2: bad arguments.
 */
public final class Client {
    static final String NS = "urn:example:echo";
    static final String WSU =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    static final String[] POLICIES = {"T", "M", "T2005", "M2005"};

    private Client() {
    }

    public static void main(String[] args) {
        Map<String, String> opt = new TreeMap<>();
        boolean cancel = false;
        boolean api = false;
        boolean digest = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-cancel")) {
                cancel = true;
            } else if (a.equals("-api")) {
                api = true;
            } else if (a.equals("-digest")) {
                digest = true;
            } else if (a.startsWith("-") && i + 1 < args.length) {
                opt.put(a.substring(1), args[++i]);
            } else {
                usage("unexpected argument " + a);
            }
        }
        String url = opt.remove("url");
        String policy = opt.remove("policy");
        String ca = opt.remove("ca");
        String out = opt.remove("out");
        String user = opt.getOrDefault("user", "alice");
        String password = opt.getOrDefault("password", "wonderland");
        String text = opt.getOrDefault("text", "hello");
        opt.remove("user");
        opt.remove("password");
        opt.remove("text");
        if (!opt.isEmpty()) {
            usage("unknown option -" + opt.keySet().iterator().next());
        }
        if (url == null || policy == null || out == null) {
            usage("-url, -policy and -out are required");
        }
        if (!List.of(POLICIES).contains(policy)) {
            usage("-policy must be one of " + String.join(", ", POLICIES));
        }
        PrintStream err = System.err;
        try {
            String reply = run(url, policy, ca, Path.of(out), user, password, text, cancel, api, digest);
            System.out.println(reply);
            System.exit(0);
        } catch (Throwable e) {
            e.printStackTrace(err);
            err.println("cxf-client: error: " + connectFailure(e, url) + describe(e));
            System.exit(1);
        }
    }

    private static void usage(String why) {
        System.err.println("cxf-client: " + why);
        System.err.println("usage: Client -url URL -policy T|M|T2005|M2005 -out DIR [-ca PEM]"
            + " [-user U] [-password P] [-text TEXT] [-cancel] [-api] [-digest]");
        System.exit(2);
    }

    /** connectFailure says so when CXF could not reach the URL at all. */
    static String connectFailure(Throwable e, String url) {
        for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
            if (t instanceof java.net.ConnectException || t instanceof java.net.UnknownHostException
                || t instanceof java.net.http.HttpConnectTimeoutException) {
                return "cannot connect to " + url + ": ";
            }
        }
        return "";
    }

    /** describe gives the chain of causes on one line. */
    static String describe(Throwable e) {
        StringBuilder b = new StringBuilder();
        String last = null;
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getClass().getSimpleName() + ": " + t.getMessage();
            if (t.getMessage() != null && t.getMessage().equals(last)) {
                continue;
            }
            if (b.length() > 0) {
                b.append(" <- ");
            }
            b.append(m);
            last = t.getMessage();
            if (t.getCause() == t) {
                break;
            }
        }
        return b.toString().replace('\n', ' ').replace('\r', ' ');
    }

    static String run(String url, String policy, String ca, Path out, String user, String password,
                      String text, boolean cancel, boolean api, boolean digest) throws Exception {
        Files.createDirectories(out);
        Bus bus = BusFactory.getDefaultBus();
        AtomicInteger seq = new AtomicInteger();
        Recorder rec = new Recorder(out, seq, api);
        bus.getOutInterceptors().add(rec.out);
        bus.getInInterceptors().add(rec.in);
        bus.getInFaultInterceptors().add(rec.in);
        if (ca != null) {
            TLSClientParameters tls = tlsTrusting(ca);
            // Every conduit on this bus, the STS client's included.
            bus.setExtension((HTTPConduitConfigurer) (name, address, c) -> c.setTlsClientParameters(tls),
                HTTPConduitConfigurer.class);
        }

        URL wsdl = Client.class.getResource("/echo-sc.wsdl");
        if (digest) {
            // The bootstrap UsernameToken with PasswordDigest: sp:HashPassword.
            String w;
            try (InputStream in = wsdl.openStream()) {
                w = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            Path f = Files.createTempFile("echo-sc-digest", ".wsdl");
            f.toFile().deleteOnExit();
            Files.writeString(f, w.replace("<sp:WssUsernameToken10/>", "<sp:WssUsernameToken10/><sp:HashPassword/>"));
            wsdl = f.toUri().toURL();
        }
        Service svc = Service.create(wsdl, new QName(NS, "EchoService"));
        Dispatch<SOAPMessage> d = svc.createDispatch(new QName(NS, "Echo" + policy + "Port"),
            SOAPMessage.class, Service.Mode.MESSAGE);
        Map<String, Object> rc = d.getRequestContext();
        rc.put(BindingProvider.ENDPOINT_ADDRESS_PROPERTY, url);
        rc.put("find.dispatch.operation", Boolean.TRUE);
        rc.put(SecurityConstants.USERNAME, user);
        rc.put(SecurityConstants.CALLBACK_HANDLER, passwords(user, password));

        SOAPMessage req = MessageFactory.newInstance().createMessage();
        SOAPBody body = req.getSOAPBody();
        SOAPElement echo = body.addChildElement("Echo", "e", NS);
        echo.addChildElement("text", "e", NS).addTextNode(text);
        req.saveChanges();

        SOAPMessage resp = d.invoke(req);
        String reply = rec.json != null ? rec.json : resp.getSOAPBody().getTextContent();

        if (cancel) {
            Endpoint ep = ((DispatchImpl<?>) d).getClient().getEndpoint();
            SecurityToken tok = (SecurityToken) ep.get(SecurityConstants.TOKEN);
            if (tok == null) {
                throw new IllegalStateException("no SecurityContextToken on the endpoint after the call");
            }
            Canceller sts = new Canceller(bus);
            sts.setLocation(url);
            sts.setSecureConv(true);
            sts.setNamespace(policy.endsWith("2005") ? STSUtils.WST_NS_05_02 : STSUtils.WST_NS_05_12);
            // The cancel proves possession of the context: it is secured
            // with the call's own policy and the token just used (without a
            // policy CXF sends the cancel with no Security header at all).
            sts.setPolicy(policyElement(wsdl, policy));
            // As for the call, the answer is not checked against the policy:
            // with a SymmetricBinding CXF would demand a cancel answer signed
            // with a key derived from the context.
            sts.setInInterceptors(List.of(new AbstractPhaseInterceptor<Message>(Phase.RECEIVE) {
                {
                    addBefore(PolicyInInterceptor.class.getName());
                }

                @Override
                public void handleMessage(Message m) {
                    m.put(PolicyConstants.POLICY_OVERRIDE, new Policy());
                }
            }));
            sts.getRequestContext().put(SecurityConstants.USERNAME, user);
            sts.getRequestContext().put(SecurityConstants.CALLBACK_HANDLER, passwords(user, password));
            sts.cancelOrThrow(tok);
            reply += "\ncancelled " + tok.getId();
        }
        return reply;
    }

    /** policyElement returns the wsp:Policy of echo-sc.wsdl whose wsu:Id is id. */
    static Element policyElement(URL wsdl, String id) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        Document doc;
        try (InputStream in = wsdl.openStream()) {
            doc = f.newDocumentBuilder().parse(in);
        }
        NodeList l = doc.getElementsByTagNameNS("*", "Policy");
        for (int i = 0; i < l.getLength(); i++) {
            Element e = (Element) l.item(i);
            if (id.equals(e.getAttributeNS(WSU, "Id"))) {
                return e;
            }
        }
        throw new IllegalStateException("echo-sc.wsdl has no policy " + id);
    }

    /** Canceller is an STSClient whose cancel reports why it failed. */
    static final class Canceller extends STSClient {
        Canceller(Bus b) {
            super(b);
        }

        void cancelOrThrow(SecurityToken tok) throws Exception {
            cancel(tok);
        }
    }

    static CallbackHandler passwords(String user, String password) {
        return (Callback[] cbs) -> {
            for (Callback cb : cbs) {
                if (cb instanceof WSPasswordCallback pc && user.equals(pc.getIdentifier())) {
                    pc.setPassword(password);
                }
            }
        };
    }

    static TLSClientParameters tlsTrusting(String pemFile) throws Exception {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        Collection<? extends Certificate> certs;
        try (InputStream in = new FileInputStream(pemFile)) {
            certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
        }
        if (certs.isEmpty()) {
            throw new IOException(pemFile + ": no certificate");
        }
        int i = 0;
        for (Certificate c : certs) {
            ks.setCertificateEntry("ca" + i++, c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        TLSClientParameters p = new TLSClientParameters();
        p.setTrustManagers(tmf.getTrustManagers());
        p.setDisableCNCheck(false);
        return p;
    }

    /** Recorder writes every HTTP message on the bus to its directory. */
    static final class Recorder {
        final Path dir;
        final AtomicInteger seq;
        final AbstractPhaseInterceptor<Message> out;
        final AbstractPhaseInterceptor<Message> in;
        final boolean api;
        /** The last JSON answer taken in api mode. */
        volatile String json;

        Recorder(Path dir, AtomicInteger seq, boolean api) {
            this.dir = dir;
            this.seq = seq;
            this.api = api;
            this.out = new AbstractPhaseInterceptor<Message>(Phase.PRE_STREAM) {
                @Override
                public void handleMessage(Message m) throws Fault {
                    OutputStream os = m.getContent(OutputStream.class);
                    if (os == null) {
                        return;
                    }
                    CacheAndWriteOutputStream cos = new CacheAndWriteOutputStream(os);
                    m.setContent(OutputStream.class, cos);
                    cos.registerCallback(new CachedOutputStreamCallback() {
                        @Override
                        public void onFlush(CachedOutputStream c) {
                        }

                        @Override
                        public void onClose(CachedOutputStream c) {
                            try {
                                String first = "POST " + m.get(Message.ENDPOINT_ADDRESS);
                                write("out", first, headers(m), c.getBytes());
                            } catch (IOException e) {
                                throw new Fault(e);
                            }
                        }
                    });
                }
            };
            this.in = new AbstractPhaseInterceptor<Message>(Phase.RECEIVE) {
                @Override
                public void handleMessage(Message m) throws Fault {
                    if (m.containsKey("authsvc.recorded")) {
                        return;
                    }
                    m.put("authsvc.recorded", Boolean.TRUE);
                    InputStream is = m.getContent(InputStream.class);
                    byte[] b = new byte[0];
                    try {
                        if (is != null) {
                            b = is.readAllBytes();
                            m.setContent(InputStream.class, new ByteArrayInputStream(b));
                        }
                        write("in", "HTTP " + m.get(Message.RESPONSE_CODE), headers(m), b);
                        Object code = m.get(Message.RESPONSE_CODE);
                        Object ct = m.get(Message.CONTENT_TYPE);
                        if (api && code instanceof Integer c && c / 100 == 2
                            && ct != null && ct.toString().toLowerCase().startsWith("application/json")) {
                            // authsvc's API mode answers an accepted call with
                            // the Subject as JSON: that is the reply, and CXF
                            // gets an empty SOAP envelope in its place.
                            json = new String(b, StandardCharsets.UTF_8);
                            m.put(Message.CONTENT_TYPE, "text/xml; charset=UTF-8");
                            m.setContent(InputStream.class, new ByteArrayInputStream(EMPTY_SOAP11));
                        }
                    } catch (IOException e) {
                        throw new Fault(e);
                    }
                }
            };
        }

        static final byte[] EMPTY_SOAP11 =
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body/></soap:Envelope>"
                .getBytes(StandardCharsets.UTF_8);

        static List<String> headers(Message m) {
            List<String> h = new ArrayList<>();
            Object ct = m.get(Message.CONTENT_TYPE);
            if (ct != null) {
                h.add("Content-Type: " + ct);
            }
            @SuppressWarnings("unchecked")
            Map<String, List<String>> ph = (Map<String, List<String>>) m.get(Message.PROTOCOL_HEADERS);
            if (ph != null) {
                for (Map.Entry<String, List<String>> e : new TreeMap<>(ph).entrySet()) {
                    if (e.getKey() == null || e.getKey().equalsIgnoreCase("Content-Type")) {
                        continue;
                    }
                    for (String v : e.getValue()) {
                        h.add(e.getKey() + ": " + v);
                    }
                }
            }
            return h;
        }

        synchronized void write(String dirn, String first, List<String> headers, byte[] body) throws IOException {
            StringBuilder b = new StringBuilder(first).append('\n');
            for (String h : headers) {
                b.append(h.replace('\n', ' ')).append('\n');
            }
            b.append('\n');
            byte[] head = b.toString().getBytes(StandardCharsets.UTF_8);
            byte[] all = new byte[head.length + body.length];
            System.arraycopy(head, 0, all, 0, head.length);
            System.arraycopy(body, 0, all, head.length, body.length);
            Files.write(dir.resolve(String.format("%02d-%s.http", seq.incrementAndGet(), dirn)), all);
        }
    }
}
