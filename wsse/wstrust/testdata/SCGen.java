// SCGen drives Apache WSS4J 1.6 (Debian's libwss4j-java) for the tests of
// package wstrust. Compile and run (the tests do this themselves):
//
//   javac -d /tmp/scgen -cp /usr/share/java/wss4j.jar:/usr/share/java/xmlsec.jar:/usr/share/java/commons-logging.jar:/usr/share/java/slf4j-api.jar SCGen.java
//   java -cp /tmp/scgen:<same jars> SCGen dk < dk_input.txt > dk_vectors.txt
//   java -cp /tmp/scgen:<same jars> SCGen env <wsc 1|2> <ref id|identifier> <valuetype 0|1> <profile M|T> <soap 11|12> <secret hex> <identifier>
//
// "dk" reads lines "name<TAB>secret hex<TAB>DerivedKeyToken XML" and writes
// each back with a fourth field: the key WSS4J's DerivedKeyToken.deriveKey
// computes from that XML (WSS4J reads Length, Offset, Label and Nonce; it
// ignores Generation). "env" writes a SOAP envelope whose Timestamp and Body
// are signed with HMAC-SHA1 under a key of a SecurityContextToken with the
// given secret: profile M through a DerivedKeyToken (WSSecDKSign), profile T
// with the secret itself (WSSecSignature).
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
import org.apache.ws.security.message.token.DerivedKeyToken;

public class SCGen {
    public static void main(String[] args) throws Exception {
        org.apache.xml.security.Init.init();
        if (args[0].equals("dk")) {
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
            PrintStream out = new PrintStream(System.out, true, "UTF-8");
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isEmpty() || line.startsWith("#")) {
                    out.println(line);
                    continue;
                }
                String[] f = line.split("\t");
                Document doc = parse(f[2]);
                DerivedKeyToken dkt = new DerivedKeyToken(doc.getDocumentElement());
                int length = dkt.getLength();
                byte[] key = dkt.deriveKey(length, unhex(f[1]));
                out.println(f[0] + "\t" + f[1] + "\t" + f[2] + "\t" + hex(key));
            }
            return;
        }
        System.out.print(envelope(args));
    }

    static Document parse(String xml) throws Exception {
        DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
        dbf.setNamespaceAware(true);
        return dbf.newDocumentBuilder().parse(new InputSource(new StringReader(xml)));
    }

    static String envelope(String[] a) throws Exception {
        int wsc = a[1].equals("2") ? ConversationConstants.VERSION_05_12 : ConversationConstants.VERSION_05_02;
        boolean byIdentifier = a[2].equals("identifier");
        boolean valueType = a[3].equals("1");
        boolean profileT = a[4].equals("T");
        String soapNS = a[5].equals("12") ? "http://www.w3.org/2003/05/soap-envelope" : "http://schemas.xmlsoap.org/soap/envelope/";
        byte[] secret = unhex(a[6]);
        String identifier = a[7];
        String scNS = ConversationConstants.getWSCNs(wsc);

        Document doc = parse("<soap:Envelope xmlns:soap=\"" + soapNS + "\"><soap:Header/><soap:Body>"
            + "<m:echo xmlns:m=\"urn:example:echo\">hello &amp; more</m:echo></soap:Body></soap:Envelope>");
        WSSecHeader sec = new WSSecHeader();
        sec.setMustUnderstand(true);
        sec.insertSecurityHeader(doc);
        WSSecTimestamp ts = new WSSecTimestamp();
        ts.setTimeToLive(300);
        ts.build(doc, sec);

        WSSecSecurityContextToken sct = new WSSecSecurityContextToken();
        sct.setWscVersion(wsc);
        sct.setIdentifier(identifier);
        sct.setSctId("sct-" + identifier.substring(identifier.length() - 12));
        sct.prepare(doc, null);

        List<WSEncryptionPart> parts = new ArrayList<WSEncryptionPart>();
        parts.add(new WSEncryptionPart("Body", soapNS, ""));
        parts.add(new WSEncryptionPart("Timestamp", WSConstants.WSU_NS, ""));
        if (profileT) {
            WSSecSignature sig = new WSSecSignature();
            sig.setSecretKey(secret);
            sig.setCustomTokenId(sct.getSctId());
            if (valueType) {
                sig.setCustomTokenValueType(scNS + ConversationConstants.TOKEN_TYPE_SECURITY_CONTEXT_TOKEN);
            }
            sig.setKeyIdentifierType(WSConstants.CUSTOM_SYMM_SIGNING);
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

        Transformer t = TransformerFactory.newInstance().newTransformer();
        t.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
        StringWriter w = new StringWriter();
        t.transform(new DOMSource(doc), new StreamResult(w));
        return w.toString();
    }

    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(String.format("%02x", x));
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
