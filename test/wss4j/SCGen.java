// SCGen drives Apache WSS4J 1.6 (Debian's libwss4j-java) to secure SOAP
// envelopes for the secure-conversation tests (package sts, authn/secureconv):
// it reads one request per line on stdin and answers "OK <base64>" or
// "ERR <message>" on stdout. The envelope to secure comes base64-encoded as
// the last field; its SOAP version is the envelope's own.
//
//   ut <user> <password> <digest 0|1> <ttl> <env>
//       adds a Timestamp (ttl seconds; 0: none) and a UsernameToken with Nonce
//       and Created (PasswordDigest or PasswordText): the bootstrap of an RST.
//   sc <wsc 1|2> <ref id|identifier> <valuetype 0|1> <profile M|T> <secret hex> <identifier> <parts> <ttl> <env>
//       adds a Timestamp (ttl seconds; 0: none), a SecurityContextToken with
//       the Identifier, and an HMAC-SHA1 signature over parts ("body", "ts",
//       comma-separated) with the context's key: profile M through a
//       DerivedKeyToken (WSSecDKSign), profile T with the secret itself
//       (WSSecSignature).
//
// wsse/wstrust/testdata/SCGen.java is the same driver as a one-shot command
// that recorded that package's fixtures.
import java.io.*;
import java.util.*;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.*;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.w3c.dom.*;
import org.xml.sax.InputSource;
import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.conversation.ConversationConstants;
import org.apache.ws.security.message.*;

public class SCGen {
    public static void main(String[] args) throws Exception {
        org.apache.xml.security.Init.init();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"), 1 << 20);
        PrintStream out = new PrintStream(new BufferedOutputStream(System.out, 1 << 20), false, "UTF-8");
        String line;
        while ((line = in.readLine()) != null) {
            try {
                String[] f = line.split("\t", -1);
                String env = new String(Base64.getDecoder().decode(f[f.length - 1]), "UTF-8");
                String res;
                if (f[0].equals("ut")) {
                    res = ut(f, env);
                } else if (f[0].equals("sc")) {
                    res = sc(f, env);
                } else {
                    throw new IllegalArgumentException("unknown request " + f[0]);
                }
                out.println("OK " + Base64.getEncoder().encodeToString(res.getBytes("UTF-8")));
            } catch (Throwable e) {
                String msg = String.valueOf(e).replace('\n', ' ').replace('\t', ' ');
                out.println("ERR " + (msg.length() > 300 ? msg.substring(0, 300) + "..." : msg));
            }
            out.flush();
        }
    }

    static Document parse(String xml) throws Exception {
        DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
        dbf.setNamespaceAware(true);
        return dbf.newDocumentBuilder().parse(new InputSource(new StringReader(xml)));
    }

    static String soapNS(Document doc) {
        return doc.getDocumentElement().getNamespaceURI();
    }

    static WSSecHeader header(Document doc, int ttl) throws Exception {
        WSSecHeader sec = new WSSecHeader();
        sec.setMustUnderstand(true);
        sec.insertSecurityHeader(doc);
        if (ttl > 0) {
            WSSecTimestamp ts = new WSSecTimestamp();
            ts.setTimeToLive(ttl);
            ts.build(doc, sec);
        }
        return sec;
    }

    static String ut(String[] a, String env) throws Exception {
        Document doc = parse(env);
        WSSecHeader sec = header(doc, Integer.parseInt(a[4]));
        WSSecUsernameToken ut = new WSSecUsernameToken();
        ut.setPasswordType(a[3].equals("1") ? WSConstants.PASSWORD_DIGEST : WSConstants.PASSWORD_TEXT);
        ut.setUserInfo(a[1], a[2]);
        ut.addNonce();
        ut.addCreated();
        ut.build(doc, sec);
        return write(doc);
    }

    static String sc(String[] a, String env) throws Exception {
        int wsc = a[1].equals("2") ? ConversationConstants.VERSION_05_12 : ConversationConstants.VERSION_05_02;
        boolean byIdentifier = a[2].equals("identifier");
        boolean valueType = a[3].equals("1");
        boolean profileT = a[4].equals("T");
        byte[] secret = unhex(a[5]);
        String identifier = a[6];
        String scNS = ConversationConstants.getWSCNs(wsc);

        Document doc = parse(env);
        String soapNS = soapNS(doc);
        WSSecHeader sec = header(doc, Integer.parseInt(a[8]));

        WSSecSecurityContextToken sct = new WSSecSecurityContextToken();
        sct.setWscVersion(wsc);
        sct.setIdentifier(identifier);
        sct.setSctId("sct-" + identifier.substring(Math.max(0, identifier.length() - 12)));
        sct.prepare(doc, null);

        List<WSEncryptionPart> parts = new ArrayList<WSEncryptionPart>();
        for (String p : a[7].split(",")) {
            if (p.equals("body")) {
                parts.add(new WSEncryptionPart("Body", soapNS, ""));
            } else if (p.equals("ts")) {
                parts.add(new WSEncryptionPart("Timestamp", WSConstants.WSU_NS, ""));
            } else if (p.startsWith("{") && p.indexOf('}') > 1) {
                // A SOAP header by its expanded name, {namespace}local.
                int end = p.indexOf('}');
                parts.add(new WSEncryptionPart(p.substring(end + 1), p.substring(1, end), ""));
            } else {
                throw new IllegalArgumentException("unknown part " + p);
            }
        }
        if (profileT) {
            WSSecSignature sig = new WSSecSignature();
            sig.setSecretKey(secret);
            if (valueType) {
                sig.setCustomTokenValueType(scNS + ConversationConstants.TOKEN_TYPE_SECURITY_CONTEXT_TOKEN);
            }
            if (byIdentifier) {
                // The KeyInfo names the context by its Identifier URI, not by
                // the SCT's wsu:Id.
                sig.setCustomTokenId(identifier);
                sig.setKeyIdentifierType(WSConstants.CUSTOM_SYMM_SIGNING_DIRECT);
            } else {
                sig.setCustomTokenId(sct.getSctId());
                sig.setKeyIdentifierType(WSConstants.CUSTOM_SYMM_SIGNING);
            }
            sig.setSignatureAlgorithm(WSConstants.HMAC_SHA1);
            sig.setParts(parts);
            sig.build(doc, null, sec);
        } else {
            WSSecDKSign dk = new WSSecDKSign();
            dk.setWscVersion(wsc);
            if (byIdentifier) {
                dk.setExternalKey(secret, identifier);
                dk.setTokenIdDirectId(true);
            } else {
                dk.setExternalKey(secret, sct.getSctId());
            }
            if (valueType) {
                dk.setCustomValueType(scNS + ConversationConstants.TOKEN_TYPE_SECURITY_CONTEXT_TOKEN);
            }
            dk.setSignatureAlgorithm(WSConstants.HMAC_SHA1);
            dk.setParts(parts);
            dk.build(doc, sec);
        }
        sct.prependSCTElementToHeader(doc, sec);
        return write(doc);
    }

    static String write(Document doc) throws Exception {
        Transformer t = TransformerFactory.newInstance().newTransformer();
        t.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
        StringWriter w = new StringWriter();
        t.transform(new DOMSource(doc), new StreamResult(w));
        return w.toString();
    }

    static byte[] unhex(String s) {
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }
}
