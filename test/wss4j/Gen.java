// Gen makes WS-Security messages with Apache WSS4J 1.6 for authsvc's interop
// tests. It reads one command per line from standard input (fields separated
// by tabs) and answers each with one line: "OK " and the Base64 of the
// result, or "ERR " and a message.
//
//	kat  PASSWORD SALT-HEX ITERATIONS
//	     UsernameToken.generateDerivedKey, as hex.
//	env  SOAP(11|12) USER PASSWORD ITERATIONS SIGALG DIGESTALG PARTS TTL NONCE(0|1) PAYLOAD-BYTES
//	     a SOAP envelope with a derived-key UsernameToken (Salt + Iteration),
//	     a Timestamp (unless TTL is 0) and an HMAC signature made with the
//	     derived key over PARTS (comma separated: body, ts, ut).
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.StringReader;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.apache.ws.security.message.WSSecUsernameToken;
import org.apache.ws.security.message.token.UsernameToken;
import org.w3c.dom.Document;
import org.xml.sax.InputSource;

public class Gen {
    static final String SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/";
    static final String SOAP12 = "http://www.w3.org/2003/05/soap-envelope";

    public static void main(String[] args) throws Exception {
        WSSConfig.init();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        String line;
        while ((line = in.readLine()) != null) {
            String[] f = line.split("\t", -1);
            try {
                String res;
                switch (f[0]) {
                case "kat":
                    res = hex(UsernameToken.generateDerivedKey(f[1], unhex(f[2]), Integer.parseInt(f[3])));
                    break;
                case "env":
                    res = envelope(f);
                    break;
                default:
                    throw new IllegalArgumentException("unknown command " + f[0]);
                }
                out.println("OK " + Base64.getEncoder().encodeToString(res.getBytes("UTF-8")));
            } catch (Exception e) {
                out.println("ERR " + e.toString().replace('\n', ' '));
            }
        }
    }

    static String envelope(String[] f) throws Exception {
        String soapNS = f[1].equals("12") ? SOAP12 : SOAP11;
        String user = f[2], password = f[3];
        int iterations = Integer.parseInt(f[4]);
        String sigAlg = f[5].equals("hmac-sha256") ? WSConstants.HMAC_SHA256 : WSConstants.HMAC_SHA1;
        String digestAlg = f[6].equals("sha256") ? "http://www.w3.org/2001/04/xmlenc#sha256" : "http://www.w3.org/2000/09/xmldsig#sha1";
        String parts = f[7];
        int ttl = Integer.parseInt(f[8]);
        boolean nonce = f[9].equals("1");
        int payload = Integer.parseInt(f[10]);

        StringBuilder body = new StringBuilder();
        for (int i = 0; body.length() < payload; i++) {
            body.append("<m:item n=\"").append(i).append("\">value &amp; more text ").append(i).append("</m:item>\n");
        }
        String xml = "<soap:Envelope xmlns:soap=\"" + soapNS + "\"><soap:Header/><soap:Body>"
            + "<m:echo xmlns:m=\"urn:example:echo\">\n" + body + "</m:echo></soap:Body></soap:Envelope>";
        DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
        dbf.setNamespaceAware(true);
        Document doc = dbf.newDocumentBuilder().parse(new InputSource(new StringReader(xml)));

        WSSecHeader sec = new WSSecHeader();
        sec.setMustUnderstand(true);
        sec.insertSecurityHeader(doc);

        if (ttl > 0) {
            WSSecTimestamp ts = new WSSecTimestamp();
            ts.setTimeToLive(ttl);
            ts.build(doc, sec);
        }

        WSSecUsernameToken ut = new WSSecUsernameToken();
        ut.setUserInfo(user, password);
        ut.addDerivedKey(true, null, iterations);
        if (nonce) {
            ut.addNonce();
            ut.addCreated();
        }
        ut.prepare(doc);

        WSSecSignature sig = new WSSecSignature();
        sig.setSecretKey(ut.getDerivedKey());
        sig.setCustomTokenValueType(WSConstants.USERNAMETOKEN_NS + "#UsernameToken");
        sig.setCustomTokenId(ut.getId());
        sig.setKeyIdentifierType(WSConstants.CUSTOM_SYMM_SIGNING);
        sig.setSignatureAlgorithm(sigAlg);
        sig.setDigestAlgo(digestAlg);
        List<WSEncryptionPart> list = new ArrayList<WSEncryptionPart>();
        for (String p : parts.split(",")) {
            switch (p) {
            case "body":
                list.add(new WSEncryptionPart("Body", soapNS, ""));
                break;
            case "ts":
                list.add(new WSEncryptionPart("Timestamp", WSConstants.WSU_NS, ""));
                break;
            case "ut":
                list.add(new WSEncryptionPart(ut.getId()));
                break;
            default:
                throw new IllegalArgumentException("unknown part " + p);
            }
        }
        sig.setParts(list);
        // A token that is signed itself must be in the document first.
        boolean signUT = parts.contains("ut");
        if (signUT) {
            ut.prependToHeader(sec);
        }
        sig.build(doc, null, sec);
        if (!signUT) {
            ut.prependToHeader(sec);
        }

        Transformer t = TransformerFactory.newInstance().newTransformer();
        t.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
        StringWriter w = new StringWriter();
        t.transform(new DOMSource(doc), new StreamResult(w));
        return w.toString();
    }

    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(String.format("%02x", x & 0xff));
        }
        return s.toString();
    }

    static byte[] unhex(String s) {
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }
}
