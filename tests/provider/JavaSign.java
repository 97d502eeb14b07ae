// A Java application on a PKCS#11 module through SunPKCS11, run by tests/provider/test_java.py
// as a single-file source program. Usage: java JavaSign.java CONFIG PIN (ALIAS ALGORITHM)...
// Signs with each alias's private key on the token, verifies with its certificate in Java.
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Security;
import java.security.Signature;
import java.security.cert.Certificate;

public class JavaSign {
    public static void main(String[] args) throws Exception {
        Provider provider = Security.getProvider("SunPKCS11").configure(args[0]);
        Security.addProvider(provider);
        KeyStore store = KeyStore.getInstance("PKCS11", provider);
        store.load(null, args[1].toCharArray());
        for (int i = 2; i < args.length; i += 2) {
            String alias = args[i];
            PrivateKey key = (PrivateKey) store.getKey(alias, null);
            Certificate cert = store.getCertificate(alias);
            byte[] data = ("signed in Java by " + alias).getBytes("UTF-8");
            Signature signer = Signature.getInstance(args[i + 1], provider);
            signer.initSign(key);
            signer.update(data);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(args[i + 1]);
            verifier.initVerify(cert.getPublicKey());
            verifier.update(data);
            System.out.println(alias + "_algorithm=" + key.getAlgorithm());
            System.out.println(alias + "_verified=" + verifier.verify(signature));
        }
    }
}
